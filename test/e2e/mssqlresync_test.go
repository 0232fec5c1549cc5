package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/tdsfake"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestSQLServerResyncOverTDS: `syncd resync`, through the admin API with
// its token, of a scope whose source is SQL Server on the TDS wire FAKE
// (layer 3, answered by itemsSourceScript: idle at version 7) repairs
// the real PostgreSQL target, where a row was deleted and one updated by
// hand, while the daemon runs: no restart. The source polls once a
// minute, so the copy is taken when the resync is asked for (the source
// wakes on the router's SnapshotsAdded), not at its next poll: dbo.items
// is read again from the fake, the target holds the source's rows again
// and /scopes shows no resync and no copy under way. It proves what
// syncd sends and does, not what a real SQL Server answers (layer 4).
func TestSQLServerResyncOverTDS(t *testing.T) {
	f := tdsfake.New(t, itemsSourceScript())
	pg := testenv.StartPostgres(t)
	dst := pg.CreateDB(t, "mssql_resync")
	d := newDaemon(t, strings.Replace(sqlserverToPostgres(f.DSN(), dst, "initial"), `poll_interval = "50ms"`, `poll_interval = "1m"`, 1))
	const token = "t0ken-resync"
	tokenFile := filepath.Join(d.Dir, "admin.token")
	writeFile(t, tokenFile, token+"\n")
	setBlock(t, d, "admin", fmt.Sprintf("admin {\n  listen     = %q\n  token_file = %q\n}", strings.TrimPrefix(d.AdminURL, "http://"), tokenFile))
	d.Start()
	db := testenv.OpenDB(t, "pgx", dst)
	want := []string{"1|один", "2|∅"}
	holds := func() error {
		got, err := testenv.Rows(db, `SELECT id, name FROM dbo.items ORDER BY id`)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("replica holds %q, want %q", got, want)
		}
		return nil
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, holds)

	execSQL(t, "pgx", dst, `DELETE FROM dbo.items WHERE id = 1`, `UPDATE dbo.items SET name = 'by hand' WHERE id = 2`)
	n := len(f.Statements())
	code, out := runSyncd(t, "resync", "--config", d.ConfigPath, "items")
	var rs struct{ ID, Scope string }
	if code != 0 || json.Unmarshal([]byte(out), &rs) != nil || rs.Scope != "items" || rs.ID == "" {
		t.Fatalf("syncd resync items: exit %d\n%s", code, out)
	}
	// Well within the poll interval: the source took the copy at once.
	testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, func() error {
		if err := holds(); err != nil {
			return err
		}
		var doc struct {
			Scopes []struct {
				Name    string
				Resyncs []json.RawMessage
				Publish struct {
					Copies []json.RawMessage
				} `json:"publishing"`
			}
		}
		if err := json.Unmarshal([]byte(adminGet(t, d, "/scopes", token)), &doc); err != nil {
			return err
		}
		if len(doc.Scopes) != 1 || len(doc.Scopes[0].Resyncs) != 0 || len(doc.Scopes[0].Publish.Copies) != 0 {
			return fmt.Errorf("/scopes shows the resync or its copy under way: %+v", doc.Scopes)
		}
		if logs := d.Logs(); !strings.Contains(logs, "resync done") || !strings.Contains(logs, rs.ID) {
			return fmt.Errorf("no \"resync done\" of %s in the logs", rs.ID)
		}
		return nil
	})
	read := slices.ContainsFunc(f.Statements()[n:], func(s string) bool {
		return strings.HasPrefix(s, "SELECT TOP (@p1) [id], [name], [qty], [data] FROM [dbo].[items]")
	})
	if !read {
		t.Errorf("dbo.items was not read from the source again for the resync")
	}
}
