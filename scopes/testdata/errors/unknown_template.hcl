source "postgres" "app" { dsn = "postgres://app" }
template "sales_by_state" {
  params = ["state"]
  table "public.orders" { where = "state = :state" }
}
scope "sales_wa" {
  source   = "app"
  template = "sales_by_stat"
  params   = { state = "WA" }
}
