package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestSQLServerWired runs syncd with a SQL Server source and target that
// no server answers (none can run here): `syncd validate` accepts the
// config, `syncd run` builds both engines, keeps retrying them, and
// /readyz and /scopes report them like any other engine's. What the
// engines do against a server is tested by their packages' layers
// (docs/sqlserver.md).
func TestSQLServerWired(t *testing.T) {
	dsn := fmt.Sprintf("sqlserver://syncd:secret@127.0.0.1:%d?database=erp", testenv.FreePort(t))
	d := newDaemon(t, fmt.Sprintf(`
source "sqlserver" "erp" {
  dsn           = %q
  poll_interval = "100ms"
}
target "sqlserver" "dwh" { dsn = %q }
scope "items" {
  source  = "erp"
  targets = ["dwh"]
  table "dbo.items" {}
}
`, dsn, dsn))
	if code, out := runSyncd(t, "validate", "--config", d.ConfigPath); code != 0 {
		t.Fatalf("syncd validate exited %d:\n%s", code, out)
	}
	d.StartAlive()
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		code, body := getStatus(t, d.AdminURL+"/readyz")
		for _, want := range []string{`"source/erp"`, `"source_disconnected"`, `"scope/items/target/dwh"`, `"target_unavailable"`, "connection refused"} {
			if code == 200 || !strings.Contains(body, want) {
				return fmt.Errorf("/readyz %d %s: want %s", code, body, want)
			}
		}
		return nil
	})
	var doc struct {
		Sources []struct {
			Name, Kind, State, Error string
			Status                   struct {
				Connected bool   `json:"connected"`
				Database  string `json:"database"`
			}
		}
		Scopes []struct {
			Name  string
			Apply []struct{ Target, State string }
		}
	}
	// Between retries a session starts (state streaming) and fails again.
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if err := json.Unmarshal([]byte(get(t, d.AdminURL+"/scopes")), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Sources) != 1 || doc.Sources[0].Kind != "sqlserver" || doc.Sources[0].State != "retrying" ||
			doc.Sources[0].Status.Connected || doc.Sources[0].Status.Database != "erp" || !strings.Contains(doc.Sources[0].Error, "connection refused") {
			return fmt.Errorf("/scopes sources = %+v, want erp, sqlserver, retrying, not connected, database erp, connection refused", doc.Sources)
		}
		if len(doc.Scopes) != 1 || len(doc.Scopes[0].Apply) != 1 || doc.Scopes[0].Apply[0].Target != "dwh" || doc.Scopes[0].Apply[0].State != "retrying" {
			return fmt.Errorf("/scopes scopes = %+v, want items applying to dwh, retrying", doc.Scopes)
		}
		return nil
	})
}

// TestSQLServerBadDSN: a SQL Server DSN that does not parse stops `syncd
// run` at start, naming the source and the target.
func TestSQLServerBadDSN(t *testing.T) {
	d := newDaemon(t, `
source "sqlserver" "erp" { dsn = "sqlserver://syncd@erp:notaport?database=erp" }
target "sqlserver" "dwh" { dsn = "sqlserver://syncd@dwh:notaport?database=dwh" }
scope "items" {
  source  = "erp"
  targets = ["dwh"]
  table "dbo.items" {}
}
`)
	code, out := runSyncd(t, "run", "--config", d.ConfigPath)
	if code == 0 || !strings.Contains(out, "source erp: parse dsn") || !strings.Contains(out, "parse dsn of target dwh") {
		t.Errorf("syncd run exited %d:\n%s\nwant a failure naming source erp's and target dwh's DSN", code, out)
	}
}
