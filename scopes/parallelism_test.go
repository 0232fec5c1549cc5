package scopes_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/syncd-dev/syncd/scopes"
)

// TestSnapshotParallelism: a PostgreSQL or MySQL source's
// snapshot_parallelism is read as given, and left 0 (the engine's
// default) when it is not set.
func TestSnapshotParallelism(t *testing.T) {
	tests := []struct {
		name   string
		source string
		want   int
	}{
		{"postgres default", `source "postgres" "app" { dsn = "postgres://app" }`, 0},
		{"postgres", `source "postgres" "app" {
  dsn                  = "postgres://app"
  snapshot_parallelism = 8
}`, 8},
		{"mysql serial", `source "mysql" "shop" {
  dsn                  = "shop@tcp(shop:3306)/shop"
  server_id            = 7
  snapshot_parallelism = 1
}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "syncd.hcl")
			if err := os.WriteFile(path, []byte(tt.source), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, diags := scopes.Load(path, scopes.LoadOptions{})
			if len(diags) > 0 {
				t.Fatalf("diagnostics:\n%s", formatted(t, diags))
			}
			if got := cfg.Sources[0].SnapshotParallelism; got != tt.want {
				t.Errorf("snapshot_parallelism = %d, want %d", got, tt.want)
			}
		})
	}
}
