template "by_region" {
  params = ["region", "min_total"]
  table "public.orders" {
    columns = ["id", "region", "total"]
    where   = "region = :region AND total >= :min_total"
  }
}

scope "orders-eu" {
  source           = "app-eu"
  targets          = ["reporting"]
  snapshot         = "never"
  on_apply_error   = "dlq"
  rows_per_message = 100
  template         = "by_region"
  params           = { region = "eu", min_total = 0.5 }
}

scope "erp_items" {
  source  = "erp"
  targets = []
  table "dbo.items" {}
}
