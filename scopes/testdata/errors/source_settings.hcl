source "oracle" "legacy" { dsn = "oracle://legacy" }
source "mysql" "shop" {
  dsn       = ""
  server_id = 0
}
source "mysql" "shop2" {
  dsn = "mysql://shop2"
}
source "sqlserver" "erp" {
  dsn           = "sqlserver://erp"
  poll_interval = "fast"
}
source "sqlserver" "erp2" {
  dsn           = "sqlserver://erp2"
  poll_interval = "0s"
  slot          = "x"
}
target "oracle" "dwh" { dsn = "oracle://dwh" }
target "mysql" "reporting" {
  dsn           = "mysql://reporting"
  create_tables = "yes"
}
source "mysql" "nulls" {
  dsn       = null
  server_id = null
}
scope "null_source" {
  source = null
  table "public.a" {}
}
source "mysql" "signal" {
  dsn          = "mysql://signal"
  server_id    = 7
  signal_table = "a.b.c"
}
source "postgres" "wide" {
  dsn                  = "postgres://wide"
  snapshot_parallelism = 0
}
