package scopes_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/syncd-dev/syncd/scopes"
)

// TestAdminSecurity loads admin blocks that are valid: loopback addresses
// need no token, any address may have one, and the token is the file's
// content without surrounding white space.
func TestAdminSecurity(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.token"), []byte("  s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		admin string
		want  scopes.Admin
	}{
		{"default", ``, scopes.Admin{Listen: "127.0.0.1:7070"}},
		{"loopback v4", `admin { listen = "127.0.0.2:9000" }`, scopes.Admin{Listen: "127.0.0.2:9000"}},
		{"loopback v6", `admin { listen = "[::1]:9000" }`, scopes.Admin{Listen: "[::1]:9000"}},
		{"localhost", `admin { listen = "localhost:9000" }`, scopes.Admin{Listen: "localhost:9000"}},
		{"all interfaces with token", `admin {
  listen     = ":9000"
  token_file = "admin.token"
  pprof      = true
}`, scopes.Admin{Listen: ":9000", Token: "s3cret-token", Pprof: true}},
		{"loopback with token", `admin { token_file = "admin.token" }`, scopes.Admin{Listen: "127.0.0.1:7070", Token: "s3cret-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "syncd.hcl")
			if err := os.WriteFile(path, []byte(tt.admin), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, diags := scopes.Load(path, scopes.LoadOptions{})
			if len(diags) > 0 {
				t.Fatalf("diagnostics:\n%s", formatted(t, diags))
			}
			got := cfg.Admin
			got.DeclRange = hcl.Range{}
			if got != tt.want {
				t.Errorf("admin = %+v, want %+v", got, tt.want)
			}
		})
	}
}
