admin {
  listen     = "0.0.0.0:7070"
  token_file = "empty.token"
}
