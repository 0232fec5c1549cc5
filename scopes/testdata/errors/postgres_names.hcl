source "postgres" "app" {
  dsn         = "postgres://app"
  slot        = "Syncd-App"
  publication = ""
}
source "postgres" "a_very_long_source_name_that_still_fits_the_sixty_three_limit" {
  dsn = "postgres://other"
}
