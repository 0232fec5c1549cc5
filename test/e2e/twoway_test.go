package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// twoWayTable is the table every database of the two-way tests holds.
const twoWayTable = `CREATE TABLE t (id int PRIMARY KEY, v text, n int);
ALTER TABLE t REPLICA IDENTITY FULL;`

// twoWayRows is the query whose checksum must agree across databases.
const twoWayRows = "SELECT id, v, n FROM t ORDER BY id"

// TestTwoWayNoLoop syncs databases a and b both ways (scopes ab and ba,
// targets declared same_as their sources) and a sink c fed by ba. Writes
// at both sides reach the other side once: nothing syncd applied is
// published back to the database it came from (the router leaves b's
// changes that syncd applied at a out of scope ab, whose one target is b;
// a's worker of ba skips the changes of a that ba carries for c), and all
// three databases end identical, with the streams holding exactly the
// changes written. Without replication origins the changes go round for
// ever.
func TestTwoWayNoLoop(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := map[string]string{}
	for _, db := range []string{"a", "b", "c"} {
		dsn[db] = pg.CreateDB(t, db)
		pg.Exec(t, db, twoWayTable)
	}
	d := newDaemon(t, fmt.Sprintf(`
source "postgres" "a" { dsn = %[1]q }
source "postgres" "b" { dsn = %[2]q }
target "postgres" "ta" {
  dsn     = %[1]q
  same_as = "a"
}
target "postgres" "tb" {
  dsn     = %[2]q
  same_as = "b"
}
target "postgres" "tc" { dsn = %[3]q }
scope "ab" {
  source   = "a"
  targets  = ["tb"]
  snapshot = "never"
  table "public.t" {}
}
scope "ba" {
  source   = "b"
  targets  = ["ta", "tc"]
  snapshot = "never"
  table "public.t" {}
}
`, dsn["a"], dsn["b"], dsn["c"]))
	d.Start()
	nc := connect(t, d)
	// The scopes' streams exist once syncd publishes; wait for both
	// sources to be reading before writing, so that no write precedes
	// the slots.
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		for _, sc := range []string{"ab", "ba"} {
			if _, err := streamCount(t, nc, sc); err != nil {
				return err
			}
		}
		return nil
	})

	// Disjoint keys: this test is about loops, not conflicts. Each
	// statement is one transaction and one row change.
	writes := map[string]int{}
	exec := func(db string, stmts ...string) {
		pg.Exec(t, db, stmts...)
		writes[db] += len(stmts)
	}
	for i := range 10 {
		exec("a", fmt.Sprintf("INSERT INTO t VALUES (%d, 'a%d', %d)", i, i, i))
		exec("b", fmt.Sprintf("INSERT INTO t VALUES (%d, 'b%d', %d)", 100+i, i, i))
	}
	exec("a", "UPDATE t SET n = n + 1 WHERE id = 1", "DELETE FROM t WHERE id = 2", "UPDATE t SET v = 'a-on-b' WHERE id = 103")
	exec("b", "UPDATE t SET n = n + 1 WHERE id = 101", "DELETE FROM t WHERE id = 102", "UPDATE t SET v = 'b-on-a' WHERE id = 3")
	// Markers: b's reaches a only after b's capture read everything b
	// logged before it (the echoes of a's changes included); a's, written
	// then, reaches b only after a's capture read the echoes of b's.
	exec("b", "INSERT INTO t VALUES (1000, 'marker-b', 0)")
	waitRow(t, dsn["a"], 1000)
	exec("a", "INSERT INTO t VALUES (1001, 'marker-a', 0)")
	waitRow(t, dsn["b"], 1001)

	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		na, sa, err := checksum(t, dsn["a"], twoWayRows)
		if err != nil {
			return err
		}
		for _, db := range []string{"b", "c"} {
			n, s, err := checksum(t, dsn[db], twoWayRows)
			if err != nil {
				return err
			}
			if n != na || s != sa {
				return fmt.Errorf("database %s holds %d rows (%s), a %d (%s)", db, n, s, na, sa)
			}
		}
		if na != 18+2 {
			return fmt.Errorf("a holds %d rows, want 20", na)
		}
		return nil
	})

	// Scope ab's one target is a's partner b: a's stream holds a's own
	// changes only, none of b's that syncd applied at a.
	ab := readStream(t, nc, "ab")
	if uint64(len(ab)) != uint64(writes["a"]) {
		t.Errorf("stream ab holds %d messages, want the %d changes written at a", len(ab), writes["a"])
	}
	for _, m := range ab {
		if o := m.Header.Get("Syncd-Origin"); o != "" || m.Env.Source.Origin != "" {
			t.Errorf("stream ab holds %s with origin %q (%q): an echo of a change applied at a", m.Subject, o, m.Env.Source.Origin)
		}
	}
	// Scope ba also feeds c, so it carries a's changes that syncd
	// applied at b (all but the marker written last, which may still be
	// on its way), marked with their origin; a's worker skipped them.
	ba := readStream(t, nc, "ba")
	echoes := 0
	for _, m := range ba {
		o := m.Header.Get("Syncd-Origin")
		if o != m.Env.Source.Origin {
			t.Errorf("message %s: header Syncd-Origin %q, envelope origin %q", m.Subject, o, m.Env.Source.Origin)
		}
		switch o {
		case "":
		case capture.SyncdOrigin("a", "ab", "tb"):
			echoes++
		default:
			t.Errorf("message %s with origin %q", m.Subject, o)
		}
	}
	if own := len(ba) - echoes; own != writes["b"] {
		t.Errorf("stream ba holds %d changes of b's own, want %d", own, writes["b"])
	}
	if echoes < writes["a"]-1 || echoes > writes["a"] {
		t.Errorf("stream ba holds %d changes syncd applied at b from a, want %d or %d", echoes, writes["a"]-1, writes["a"])
	}
	// a's worker of ba applied b's own changes only (the marker
	// included, which it had to apply for the test to get here).
	var applied int
	queryRow(t, dsn["a"], "SELECT rows_applied FROM syncd_scope_info WHERE scope = 'ba'", &applied)
	if applied != writes["b"] {
		t.Errorf("a's scope_info says ba applied %d changes, want the %d written at b", applied, writes["b"])
	}
	if logs := d.Logs(); strings.Contains(logs, "replication origin") && strings.Contains(logs, "[ERROR]") {
		t.Errorf("syncd logged origin errors:\n%s", logs)
	}
}

// queryRow scans the one row of query at dsn into dst.
func queryRow(t *testing.T, dsn, query string, dst ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, query).Scan(dst...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// waitRow waits until the row with id exists in t at dsn.
func waitRow(t *testing.T, dsn string, id int) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		n, _, err := checksum(t, dsn, fmt.Sprintf("SELECT id FROM t WHERE id = %d", id))
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("row %d not there yet", id)
		}
		return nil
	})
}
