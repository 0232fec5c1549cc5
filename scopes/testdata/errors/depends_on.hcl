source "postgres" "app" { dsn = "postgres://app" }
target "postgres" "replica" { dsn = "postgres://replica" }
target "postgres" "archive" { dsn = "postgres://archive" }

scope "a" {
  source     = "app"
  targets    = ["replica"]
  depends_on = ["b"]
  table "public.a" {}
}
scope "b" {
  source     = "app"
  targets    = ["replica"]
  depends_on = ["c", "b"]
  table "public.b" {}
}
scope "c" {
  source     = "app"
  targets    = ["replica"]
  depends_on = ["a", "productz", "d", "a"]
  table "public.c" {}
}
scope "d" {
  source  = "app"
  targets = ["archive"]
  table "public.d" {}
}
