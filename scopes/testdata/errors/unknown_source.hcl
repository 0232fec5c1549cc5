source "postgres" "app" { dsn = "postgres://app" }
source "mysql" "shop" {
  dsn       = "mysql://shop"
  server_id = 1
}

scope "products" {
  source = "ap"
  table "public.product" {}
}
