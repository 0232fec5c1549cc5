admin {
  listen = ":7070"
  pprof  = "yes"
}
