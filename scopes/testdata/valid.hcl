# DESIGN.md §3's example, plus the wa_store target its sales_wa scope uses.
nats {
  # No url: syncd runs an embedded JetStream server, stored under data_dir and listening
  # on `listen` so that subscribers and `syncd tail` can connect.
  listen = "127.0.0.1:4222"
  # url   = "nats://nats-1:4222,nats://nats-2:4222"   # an external server or cluster instead
  # creds = file("/etc/syncd/nats.creds")
}
data_dir = "/var/lib/syncd"

admin { listen = "127.0.0.1:7070" }

source "postgres" "app" {
  dsn         = env("APP_DATABASE_URL")
  slot        = "syncd_app"        # default syncd_<name>
  publication = "syncd_app"        # default syncd_<name>
}

source "mysql" "shop" {
  dsn       = env("SHOP_DSN")
  server_id = 4001
}

source "sqlserver" "erp" {
  dsn           = env("ERP_DSN")
  poll_interval = "250ms"
}

target "postgres" "replica" {
  dsn              = env("REPLICA_URL")
  scope_info_table = "syncd_scope_info"
  create_tables    = true          # create missing target tables from the source schema
  removed_tables   = "empty"       # keep | empty: rows of tables that leave the config
}

target "mysql" "wa_store" {
  dsn = env("WA_STORE_DSN")
}

scope "products" {
  source   = "app"
  targets  = ["replica"]
  snapshot = "initial"             # initial | never

  table "public.product_category" {}
  table "public.product" {
    columns = ["id", "name", "price", "category_id"]
    where   = "price > 0 AND discontinued_at IS NULL"
    target  = "catalog.product"    # target table name; default: same name
  }
}

template "sales_by_state" {
  params = ["state"]
  table "public.orders"        { where = "state = :state" }
  table "public.order_details" { where = "state = :state" }
}

scope "sales_wa" {
  source   = "app"
  targets  = ["wa_store"]
  template = "sales_by_state"
  params   = { state = "WA" }
}
