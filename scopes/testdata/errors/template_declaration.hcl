template "t" {
  params = ["state", "state", "bad-name"]
  table "public.orders" { where = "state = :state AND region = :region" }
}
template "none" {
  table "public.orders" { where = "state = :state" }
}
template "empty" {
  params = []
}
