source "postgres" "app" {
  dsn = "postgres://app
}
scope {
