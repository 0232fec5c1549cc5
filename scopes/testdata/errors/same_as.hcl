source "postgres" "a" { dsn = "postgres://a" }
source "postgres" "b" { dsn = "postgres://b" }
source "postgres" "c" { dsn = "postgres://c" }
source "mysql" "m" {
  dsn       = "u@tcp(m)/m"
  server_id = 9
}
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
target "postgres" "tm" {
  dsn     = "postgres://m"
  same_as = "m"
}
target "postgres" "tx" {
  dsn     = "postgres://x"
  same_as = "nope"
}
scope "ab" {
  source    = "a"
  targets   = ["tb"]
  conflicts = "source_wins"
  table "public.t" {}
  table "public.u" {
    mapping {
      column "w" { expr = "v" }
    }
  }
}
scope "ba" {
  source    = "b"
  targets   = ["ta"]
  conflicts = "newest_column"
  table "public.t" {}
  table "public.u" {}
}
scope "bc" {
  source  = "b"
  targets = ["tc"]
  table "public.t" {}
}
scope "ca" {
  source  = "c"
  targets = ["ta"]
  table "public.t" {}
}
scope "self" {
  source  = "a"
  targets = ["ta"]
  table "public.t" {}
}
