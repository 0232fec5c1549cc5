source "sqlserver" "erp" {
  dsn           = "sqlserver://syncd@erp:1433?database=erp"
  poll_interval = "250ms"
}
target "sqlserver" "dwh" { dsn = "sqlserver://syncd@dwh:1433?database=dwh" }
scope "items" {
  source  = "erp"
  targets = ["dwh"]
  table "dbo.items" {}
}
