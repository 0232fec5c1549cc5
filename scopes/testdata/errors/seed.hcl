source "postgres" "a" { dsn = "postgres://a" }
source "postgres" "b" { dsn = "postgres://b" }
source "postgres" "c" { dsn = "postgres://c" }
source "postgres" "d" { dsn = "postgres://d" }
target "postgres" "ta" {
  dsn     = "postgres://a"
  same_as = "a"
}
target "postgres" "tb" {
  dsn     = "postgres://b"
  same_as = "b"
}
target "postgres" "tc" {
  dsn     = "postgres://c"
  same_as = "c"
}
target "postgres" "td" {
  dsn     = "postgres://d"
  same_as = "d"
}
scope "ab" {
  source    = "a"
  targets   = ["tb"]
  conflicts = "source_wins"
  seed      = "c"
  table "public.t" {}
}
scope "ba" {
  source    = "b"
  targets   = ["ta"]
  snapshot  = "never"
  conflicts = "target_wins"
  seed      = "a"
  table "public.t" {}
}
scope "bx" {
  source  = "b"
  seed    = "b"
  targets = []
  table "public.u" {}
}
scope "cd" {
  source    = "c"
  targets   = ["td"]
  conflicts = "park"
  seed      = "c"
  table "public.t" {}
}
scope "dc" {
  source    = "d"
  targets   = ["tc"]
  conflicts = "park"
  seed      = "merge"
  table "public.t" {}
}
