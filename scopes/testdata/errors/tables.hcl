source "postgres" "app" { dsn = "postgres://app" }
scope "products" {
  source = "app"
  table "product" {}
  table ".product" {}
  table "public.product" { target = "catalog." }
  table "public.category" {
    columns = ["id", "name", "id", ""]
  }
  table "public.category" {}
  table "public.tag" { columns = [] }
  table "public.label" { target = "public.tag" }
}
