# Example syncd configuration: one PostgreSQL source, two scopes.
# Secrets come from the environment (see deploy/systemd/syncd.env.example)
# or from files; never write them here.

# No url: syncd runs an embedded JetStream server under data_dir and
# listens here for subscribers and `syncd tail`.
nats {
  listen = "127.0.0.1:4222"
}
data_dir = "/var/lib/syncd"

admin {
  listen = "127.0.0.1:7070"
}

source "postgres" "app" {
  dsn = env("APP_DATABASE_URL")
}

# Products that are for sale, with the columns a storefront needs.
scope "catalog" {
  source = "app"
  table "public.product_category" {}
  table "public.product" {
    columns = ["id", "name", "price", "category_id"]
    where   = "price > 0 AND discontinued_at IS NULL"
  }
}

# One scope per region, from a template.
template "sales_by_region" {
  params = ["region"]
  table "public.orders"        { where = "region = :region" }
  table "public.order_details" { where = "region = :region" }
}

scope "sales_eu" {
  source   = "app"
  template = "sales_by_region"
  params   = { region = "eu" }
}
