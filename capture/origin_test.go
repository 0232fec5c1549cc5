package capture

import "testing"

func TestOriginSource(t *testing.T) {
	tests := []struct {
		name, origin, want string
	}{
		{name: "syncd", origin: SyncdOrigin("app", "orders", "replica"), want: "app"},
		{name: "none", origin: "", want: ""},
		{name: "other", origin: "pg_16384", want: ""},
		{name: "prefix only", origin: "syncd:", want: ""},
		{name: "no scope", origin: "syncd:app", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OriginSource(tt.origin); got != tt.want {
				t.Errorf("OriginSource(%q) = %q, want %q", tt.origin, got, tt.want)
			}
		})
	}
}

func TestParseOrigin(t *testing.T) {
	source, scope, target, ok := ParseOrigin(SyncdOrigin("app", "orders", "replica"))
	if !ok || source != "app" || scope != "orders" || target != "replica" {
		t.Errorf("ParseOrigin = %q, %q, %q, %v", source, scope, target, ok)
	}
}
