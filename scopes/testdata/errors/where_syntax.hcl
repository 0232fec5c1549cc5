source "postgres" "app" { dsn = "postgres://app" }
scope "products" {
  source = "app"
  table "public.product" { where = "price > 0 AND discontinued_at IS NUL" }
  table "public.category" { where = "name = \"x\" AND" }
  table "public.tag" {
    where = <<-EOT
      name LIKE 'x%' OR
      name ~ 'y'
    EOT
  }
}
