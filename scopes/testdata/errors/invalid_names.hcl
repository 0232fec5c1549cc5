source "postgres" "App" { dsn = "postgres://app" }
target "postgres" "re.plica" { dsn = "postgres://replica" }
scope "sales wa" {
  source = "App"
  table "public.a" {}
}
scope "a_very_long_scope_name_that_goes_on_and_on_well_past_sixty_three_chars" {
  source = "App"
  table "public.a" {}
}
