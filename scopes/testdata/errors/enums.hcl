source "postgres" "app" { dsn = "postgres://app" }
scope "products" {
  source         = "app"
  snapshot       = "always"
  on_apply_error = "ignore"
  rows_per_message = 5000
  table "public.product" {}
}
target "postgres" "replica" {
  dsn            = "postgres://replica"
  removed_tables = "truncate"
}
