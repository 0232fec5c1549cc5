source "postgres" "app" { dsn = "postgres://app" }
target "postgres" "replica" { dsn = "postgres://replica" }

scope "products" {
  source  = "app"
  targets = ["replica", "replika", "replica"]
  table "public.product" {}
}
