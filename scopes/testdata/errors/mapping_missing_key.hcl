source "postgres" "app" { dsn = "postgres://app" }
scope "crm" {
  source = "app"
  table "public.customers" {
    mapping {
      hash_key = env("SYNCD_TEST_UNSET_HASH_KEY")
      column "h" { expr = "hmac_sha256(ssn)" }
    }
  }
}
