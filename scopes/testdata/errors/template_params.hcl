source "postgres" "app" { dsn = "postgres://app" }
template "sales_by_state" {
  params = ["state", "year"]
  table "public.orders" { where = "state = :state AND year = :year" }
}
scope "unknown_param" {
  source   = "app"
  template = "sales_by_state"
  params   = { state = "WA", year = 2026, region = "west" }
}
scope "missing_param" {
  source   = "app"
  template = "sales_by_state"
  params   = { state = "WA" }
}
scope "no_params" {
  source   = "app"
  template = "sales_by_state"
}
scope "bad_value" {
  source   = "app"
  template = "sales_by_state"
  params   = { state = ["WA"], year = 2026 }
}
