source "postgres" "app" {
  dsn    = "postgres://app"
  server = "x"
}
scope "s" {
  source = "app"
  tables = ["public.a"]
  table "public.a" { filter = "x = 1" }
}
database "x" {}
