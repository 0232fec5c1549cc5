nats {
  url              = "nats://nats:4222"
  listen           = "0.0.0.0:4222"
  creds            = "jwt"
  user             = "syncd"
  stream_replicas  = 7
  stream_max_age   = "1h"
  duplicate_window = "2h"
  stream_max_bytes = -1
  tls {
    cert_file = "cert.pem"
  }
}
nats {}
admin { listen = "7070" }
data_dir = ""
