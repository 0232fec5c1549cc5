package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/scopes"
)

const reloadBase = `data_dir = "/var/lib/syncd"
nats { listen = "127.0.0.1:4222" }
admin { listen = "127.0.0.1:7070" }
source "postgres" "app" { dsn = "postgres://syncd@db/app" }
scope "items" {
  source = "app"
  table "public.item" {}
}
`

// TestReloadChanges checks what a reload makes of an edited config: the
// same pipeline (configHash equal) when only the layout changed, a new
// one when a source or scope changed, and a rejection at the block's
// position when a setting that needs a restart changed.
func TestReloadChanges(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(string) string
		wantChanged bool
		wantDiag    string // "" means none; else the one diagnostic's prefix
	}{
		{"blocks moved", func(c string) string {
			head, scope, _ := strings.Cut(c, "scope")
			return "scope" + scope + "\n\n" + head
		}, false, ""},
		{"table added", func(c string) string {
			return strings.Replace(c, `  table "public.item" {}`, `  table "public.item" {}`+"\n"+`  table "public.order" {}`, 1)
		}, true, ""},
		{"dsn changed", func(c string) string { return strings.Replace(c, "db/app", "db2/app", 1) }, true, ""},
		{"nats changed", func(c string) string { return strings.Replace(c, "4222", "4223", 1) }, false,
			"syncd.hcl:2:1: error: Change needs a restart: A reload cannot change the nats block"},
		{"admin changed", func(c string) string { return strings.Replace(c, "7070", "7071", 1) }, false,
			"syncd.hcl:3:1: error: Change needs a restart: A reload cannot change the admin block"},
		{"data_dir changed", func(c string) string { return strings.Replace(c, "/var/lib/syncd", "/srv/syncd", 1) }, false,
			"syncd.hcl:1:1: error: Change needs a restart: A reload cannot change the data_dir"},
		{"nats block removed", func(c string) string { return strings.Replace(c, `nats { listen = "127.0.0.1:4222" }`, "", 1) }, false, ""},
	}
	old := loadReloadConfig(t, reloadBase)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadReloadConfig(t, tt.edit(reloadBase))
			if changed := configHash(cfg) != configHash(old); changed != tt.wantChanged {
				t.Errorf("config changed = %v, want %v", changed, tt.wantChanged)
			}
			lines := diagnosticLines(restartOnly(old, cfg))
			switch {
			case tt.wantDiag == "" && len(lines) > 0:
				t.Errorf("diagnostics %q, want none", lines)
			case tt.wantDiag != "" && (len(lines) != 1 || !strings.HasPrefix(lines[0], filepath.Join(filepath.Dir(cfg.Sources[0].DeclRange.Filename), tt.wantDiag))):
				t.Errorf("diagnostics %q, want one starting with %s", lines, tt.wantDiag)
			}
		})
	}
}

func loadReloadConfig(t *testing.T, text string) *scopes.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "syncd.hcl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := scopes.Load(path, scopes.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("load: %s", diagnosticLines(diags))
	}
	return cfg
}
