source "postgres" "app" { dsn = "postgres://app" }
scope "products" {
  source         = "app"
  snapshot       = "always"
  on_apply_error = "ignore"
  table "public.product" {}
}
