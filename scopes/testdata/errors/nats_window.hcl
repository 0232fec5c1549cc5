nats {
  duplicate_window = "10ms"
}
