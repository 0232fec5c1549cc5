source "postgres" "a" { dsn = "postgres://a" }
source "mysql" "m" {
  dsn       = "u@tcp(m)/m"
  server_id = 9
}
target "postgres" "ta" {
  dsn     = "postgres://a"
  same_as = "a"
}
target "mysql" "tm" {
  dsn     = "u@tcp(m)/m"
  same_as = "m"
}
scope "am" {
  source    = "a"
  targets   = ["tm"]
  snapshot  = "never"
  conflicts = "source_wins"
  table "public.t" {
    target    = "m.t"
    conflicts = "newer_wins"
  }
}
scope "ma" {
  source    = "m"
  targets   = ["ta"]
  snapshot  = "never"
  conflicts = "newer_wins"
  table "m.t" { target = "public.t" }
}
