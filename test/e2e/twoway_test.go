package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// node is one database of a two-way test.
type node struct {
	kind   string // source and target kind in the config
	source string // extra source attributes (server_id)
	dsn    string // for syncd
	driver string // database/sql driver of dsn
	exec   func(stmts ...string)
	table  string // the table waitRow looks in; "" for t
}

// pgNode creates database name on pg with the two-way table.
func pgNode(t *testing.T, pg *testenv.Postgres, name string) node {
	dsn := pg.CreateDB(t, name)
	pg.Exec(t, name, "CREATE TABLE t (id int PRIMARY KEY, v text, n int)", "ALTER TABLE t REPLICA IDENTITY FULL")
	return node{kind: "postgres", dsn: dsn, driver: "pgx", exec: func(stmts ...string) { pg.Exec(t, name, stmts...) }}
}

// mariaNode creates database name on m with the two-way table.
func mariaNode(t *testing.T, m *testenv.MariaDB, name string) node {
	dsn := m.CreateDB(t, name)
	m.Exec(t, name, "CREATE TABLE t (id int PRIMARY KEY, v text, n int)")
	return node{kind: "mysql", source: "server_id = 4101", dsn: dsn, driver: "mysql", exec: func(stmts ...string) { m.Exec(t, name, stmts...) }}
}

// twoWayRows is the query whose rows must agree across databases.
const twoWayRows = "SELECT id, v, n FROM t ORDER BY id"

// TestTwoWayNoLoop syncs databases a and b both ways (scopes ab and ba,
// targets declared same_as their sources) and a sink c fed by ba, for
// PostgreSQL with PostgreSQL and with MariaDB. Writes at both sides reach
// the other side once: nothing syncd applied is published back to the
// database it came from (the router leaves b's changes that syncd applied
// at a out of scope ab, whose one target is b; a's worker of ba skips the
// changes of a that ba carries for c), and all three databases end
// identical, with the streams holding exactly the changes written.
// Without the origin marks the changes go round for ever.
func TestTwoWayNoLoop(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		twoWayNoLoop(t, pgNode(t, pg, "a"), pgNode(t, pg, "b"), pgNode(t, pg, "c"))
	})
	t.Run("postgres-mariadb", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		m := testenv.StartMariaDB(t)
		twoWayNoLoop(t, pgNode(t, pg, "a"), mariaNode(t, m, "b"), pgNode(t, pg, "c"))
	})
}

func twoWayNoLoop(t *testing.T, a, b, c node) {
	d := newDaemon(t, pairHCL(a, b)+fmt.Sprintf(`
target %[1]q "tc" { dsn = %[2]q }
scope "ab" {
  source    = "a"
  targets   = ["tb"]
  snapshot  = "never"
  conflicts = "source_wins"
  table "public.t" {
    target = %[3]q
  }
}
scope "ba" {
  source    = "b"
  targets   = ["ta", "tc"]
  snapshot  = "never"
  conflicts = "target_wins"
  table %[3]q {
    target = "public.t"
  }
}
`, c.kind, c.dsn, tableOf(b)))
	d.Start()
	nc := connect(t, d)
	waitStreams(t, nc, "ab", "ba")
	if b.kind == "mysql" {
		waitSaved(t, d, "b") // its binlog reader has its start: writes from now are read
	}

	// Disjoint keys: this test is about loops, not conflicts. Each
	// statement is one transaction and one row change.
	writes := map[string]int{}
	exec := func(n node, name string, stmts ...string) {
		n.exec(stmts...)
		writes[name] += len(stmts)
	}
	for i := range 10 {
		exec(a, "a", fmt.Sprintf("INSERT INTO t VALUES (%d, 'a%d', %d)", i, i, i))
		exec(b, "b", fmt.Sprintf("INSERT INTO t VALUES (%d, 'b%d', %d)", 100+i, i, i))
	}
	// Each side updates a row the other inserted: wait until it has it,
	// or the update changes nothing and writes no change.
	waitRow(t, a, 103)
	waitRow(t, b, 3)
	exec(a, "a", "UPDATE t SET n = n + 1 WHERE id = 1", "DELETE FROM t WHERE id = 2", "UPDATE t SET v = 'a-on-b' WHERE id = 103")
	exec(b, "b", "UPDATE t SET n = n + 1 WHERE id = 101", "DELETE FROM t WHERE id = 102", "UPDATE t SET v = 'b-on-a' WHERE id = 3")
	// Markers: b's reaches a only after b's capture read everything b
	// logged before it (the echoes of a's changes included); a's, written
	// then, reaches b only after a's capture read the echoes of b's.
	exec(b, "b", "INSERT INTO t VALUES (1000, 'marker-b', 0)")
	waitRow(t, a, 1000)
	exec(a, "a", "INSERT INTO t VALUES (1001, 'marker-a', 0)")
	waitRow(t, b, 1001)

	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		na, sa, err := rowsHash(a.driver, a.dsn, twoWayRows)
		if err != nil {
			return err
		}
		for name, n := range map[string]node{"b": b, "c": c} {
			nn, s, err := rowsHash(n.driver, n.dsn, twoWayRows)
			if err != nil {
				return err
			}
			if nn != na || s != sa {
				return fmt.Errorf("database %s holds %d rows (%s), a %d (%s)", name, nn, s, na, sa)
			}
		}
		if na != 20 {
			return fmt.Errorf("a holds %d rows, want 20", na)
		}
		return nil
	})

	// Scope ab's one target is a's partner b: a's stream holds a's own
	// changes only, none of b's that syncd applied at a.
	ab := readStream(t, nc, "ab")
	if len(ab) != writes["a"] {
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
	if applied := int(rowsAppliedOf(t, a.driver, a.dsn, "ba")); applied != writes["b"] {
		t.Errorf("a's scope_info says ba applied %d changes, want the %d written at b", applied, writes["b"])
	}

	// A truncate at a empties b, and c through b, as in a one-way scope,
	// and the scopes go on: a row written at b afterwards reaches a and c.
	a.exec("TRUNCATE t")
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		for name, n := range map[string]node{"b": b, "c": c} {
			rows, _, err := rowsHash(n.driver, n.dsn, "SELECT id FROM t")
			if err != nil {
				return err
			}
			if rows != 0 {
				return fmt.Errorf("database %s holds %d rows after a's truncate", name, rows)
			}
		}
		return nil
	})
	b.exec("INSERT INTO t VALUES (2000, 'after-truncate', 0)")
	waitRow(t, a, 2000)
	waitRow(t, c, 2000)
}

// pairHCL returns the source and target blocks of databases a and b,
// each target same_as its source: sources "a", "b", targets "ta", "tb".
func pairHCL(a, b node) string {
	return fmt.Sprintf(`
source %[1]q "a" {
  dsn = %[2]q
  %[3]s
}
source %[4]q "b" {
  dsn = %[5]q
  %[6]s
}
target %[1]q "ta" {
  dsn     = %[2]q
  same_as = "a"
}
target %[4]q "tb" {
  dsn     = %[5]q
  same_as = "b"
}
`, a.kind, a.dsn, a.source, b.kind, b.dsn, b.source)
}

// waitStreams waits until the scopes' streams exist: syncd reads their
// sources.
func waitStreams(t *testing.T, nc *nats.Conn, scopes ...string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		for _, sc := range scopes {
			if _, err := streamCount(t, nc, sc); err != nil {
				return err
			}
		}
		return nil
	})
}

// tableOf names table t of n (b): MariaDB names tables by database.
func tableOf(n node) string {
	if n.kind == "mysql" {
		return "b.t"
	}
	return "public.t"
}

// waitRow waits until the row with id exists in n's table.
func waitRow(t *testing.T, n node, id int) {
	t.Helper()
	table := n.table
	if table == "" {
		table = "t"
	}
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		c, _, err := rowsHash(n.driver, n.dsn, fmt.Sprintf("SELECT id FROM %s WHERE id = %d", table, id))
		if err != nil {
			return err
		}
		if c != 1 {
			return fmt.Errorf("row %d not there yet", id)
		}
		return nil
	})
}

// TestTwoWayNeedsFullOldRows checks that syncd refuses to start a two-way
// scope on a PostgreSQL table whose replica identity is not FULL, naming
// the table, the scope and the fix. (MariaDB sources need
// binlog_row_image = FULL for every scope.)
func TestTwoWayNeedsFullOldRows(t *testing.T) {
	pg := testenv.StartPostgres(t)
	a, b := pgNode(t, pg, "a"), pgNode(t, pg, "b")
	a.exec("ALTER TABLE t REPLICA IDENTITY DEFAULT")
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
scope "ab" {
  source    = "a"
  targets   = ["tb"]
  snapshot  = "never"
  conflicts = "park"
  table "public.t" {}
}
scope "ba" {
  source    = "b"
  targets   = ["ta"]
  snapshot  = "never"
  conflicts = "park"
  table "public.t" {}
}
`, a.dsn, b.dsn))
	code, out := runSyncd(t, "run", "--config", d.ConfigPath)
	want := `table public.t is in two-way scope ab, whose conflict detection needs whole old rows, but its REPLICA IDENTITY is not FULL: run ALTER TABLE "public"."t" REPLICA IDENTITY FULL`
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("syncd run: exit %d, want 1 and output with %q:\n%s", code, want, out)
	}
}
