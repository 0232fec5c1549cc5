package scopes_test

import "testing"

// TestTwoWayLinks checks which scopes are two-way and which source's
// changes are echoes for each: a hub with two spokes, both ways, and a
// one-way copy to a plain target.
func TestTwoWayLinks(t *testing.T) {
	cfg := loadString(t, `
source "postgres" "hub" { dsn = "postgres://hub" }
source "postgres" "wa" { dsn = "postgres://wa" }
source "postgres" "or" { dsn = "postgres://or" }
target "postgres" "hub" {
  dsn     = "postgres://hub"
  same_as = "hub"
}
target "postgres" "wa" {
  dsn     = "postgres://wa"
  same_as = "wa"
}
target "postgres" "or" {
  dsn     = "postgres://or"
  same_as = "or"
}
target "postgres" "archive" { dsn = "postgres://archive" }
scope "to-wa" {
  source    = "hub"
  targets   = ["wa"]
  snapshot  = "never"
  conflicts = "source_wins"
  table "public.t" {}
}
scope "to-or" {
  source    = "hub"
  targets   = ["or"]
  snapshot  = "never"
  conflicts = "park"
  table "public.t" {}
}
scope "from-wa" {
  source    = "wa"
  targets   = ["hub"]
  snapshot  = "never"
  conflicts = "target_wins"
  table "public.t" {}
}
scope "from-or" {
  source    = "or"
  targets   = ["hub", "archive"]
  snapshot  = "never"
  conflicts = "park"
  table "public.t" {}
}
scope "to-archive" {
  source  = "hub"
  targets = ["archive"]
  table "public.t" {}
}
`)
	tests := []struct {
		scope  string
		twoWay bool
		echo   string
	}{
		{"to-wa", true, "wa"},
		{"to-or", true, "or"},
		{"from-wa", true, "hub"},
		{"from-or", true, ""}, // archive is not the hub: the hub's worker skips echoes
		{"to-archive", false, ""},
	}
	for _, tt := range tests {
		s := cfg.Scope(tt.scope)
		if got := cfg.TwoWay(s); got != tt.twoWay {
			t.Errorf("TwoWay(%s) = %v, want %v", tt.scope, got, tt.twoWay)
		}
		if got := cfg.EchoSource(s); got != tt.echo {
			t.Errorf("EchoSource(%s) = %q, want %q", tt.scope, got, tt.echo)
		}
	}
}
