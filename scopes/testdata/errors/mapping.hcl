source "postgres" "app" { dsn = "postgres://app" }
scope "crm" {
  source = "app"
  table "public.customers" {
    mapping {
      auto     = "loose"
      hash_key = "short"
      drop     = ["ssn"]
      column "first_name" { expr = "split(full_name, ' ')[0" }
      column "last_name" { expr = "lower(nosuch(full_name))" }
      column "ssn" {}
      column "stamp" { expr = "now()" }
      column "x" {
        from = "a"
        expr = "b"
      }
    }
  }
  table "public.orders" {
    columns = ["id"]
    mapping {}
  }
}
