scope "products" {
  source = "app"
  table "public.product" {}
}
