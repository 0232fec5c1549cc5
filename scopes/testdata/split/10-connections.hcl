data_dir = "state"

nats {
  url             = "nats://nats-1:4222,nats://nats-2:4222"
  creds           = file("nats.creds")
  stream_replicas = 3
  stream_max_age  = "720h"
  duplicate_window = "5m"
  stream_max_bytes = 1073741824

  tls {
    ca_file = "ca.pem"
  }
}

source "postgres" "app-eu" {
  dsn = env("APP_DATABASE_URL")
}

source "mysql" "erp" {
  dsn       = "syncd@tcp(erp:3306)/erp"
  server_id = 4002
}

target "mysql" "reporting" {
  dsn = env("REPORTING_DSN")
}
