source "postgres" "app" { dsn = "postgres://app" }
template "t" {
  table "public.a" {}
}
scope "both" {
  source   = "app"
  template = "t"
  table "public.b" {}
}
scope "none" {
  source = "app"
}
scope "params_only" {
  source = "app"
  params = { state = "WA" }
  table "public.a" {}
}
scope "no_source" {
  table "public.a" {}
}
