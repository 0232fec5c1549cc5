source "postgres" "app" { dsn = env("SYNCD_TEST_UNSET") }
nats {
  creds = file("no-such.creds")
}
