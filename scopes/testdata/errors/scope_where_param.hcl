source "postgres" "app" { dsn = "postgres://app" }
scope "products" {
  source = "app"
  table "public.product" { where = "category = :category" }
}
