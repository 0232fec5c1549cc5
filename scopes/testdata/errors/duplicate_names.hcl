source "postgres" "app" { dsn = "postgres://app" }
source "mysql" "app" {
  dsn       = "mysql://app"
  server_id = 1
}
target "postgres" "replica" { dsn = "postgres://replica" }
target "postgres" "replica" { dsn = "postgres://replica2" }
template "t" {
  table "public.a" {}
}
template "t" {
  table "public.b" {}
}
scope "s" {
  source = "app"
  table "public.a" {}
}
scope "s" {
  source = "app"
  table "public.b" {}
}
