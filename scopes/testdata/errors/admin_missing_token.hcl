admin {
  listen     = "[::]:7070"
  token_file = "no-such.token"
}
