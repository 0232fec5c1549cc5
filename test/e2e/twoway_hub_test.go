package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestTwoWayHub syncs a hub with three spokes, each spoke's scope from
// one template: a and c hold state WA (overlapping), b state OR. A row
// inserted at spoke a reaches the hub and spoke c, whose scope holds it,
// and never comes back to a; moved into OR at the hub, it leaves a and c
// and enters b. A resync of a's scope keeps the rows a holds that the
// copy does not (a row of a outside its scope): a two-way copy does not
// empty the target. The scopes settle conflicts by newer_wins: a change
// of a reaches the hub and c with a's commit time, and when a and then c
// update one row while syncd is down, c's update wins at all three,
// whichever of the two the hub applies first.
func TestTwoWayHub(t *testing.T) {
	pg := testenv.StartPostgres(t, testenv.WithSetting("track_commit_timestamp", "on"))
	nodes := map[string]node{}
	var hcl strings.Builder
	hcl.WriteString(`
template "spoke" {
  params = ["state"]
  table "public.t" { where = "state = :state" }
}
`)
	for _, name := range []string{"hub", "a", "b", "c"} {
		dsn := pg.CreateDB(t, name)
		pg.Exec(t, name, "CREATE TABLE t (id int PRIMARY KEY, state text, v text)", "ALTER TABLE t REPLICA IDENTITY FULL")
		n := node{kind: "postgres", dsn: dsn, driver: "pgx", table: "t"}
		nodes[name] = n
		fmt.Fprintf(&hcl, `
source "postgres" %[1]q { dsn = %[2]q }
target "postgres" %[1]q {
  dsn     = %[2]q
  same_as = %[1]q
}
`, name, dsn)
	}
	for name, state := range map[string]string{"a": "WA", "b": "OR", "c": "WA"} {
		fmt.Fprintf(&hcl, `
scope "to_%[1]s" {
  source    = "hub"
  targets   = [%[1]q]
  snapshot  = "never"
  conflicts = "newer_wins"
  template  = "spoke"
  params    = { state = %[2]q }
}
scope "from_%[1]s" {
  source    = %[1]q
  targets   = ["hub"]
  snapshot  = "never"
  conflicts = "newer_wins"
  table "public.t" {}
}
`, name, state)
	}
	d := newDaemon(t, hcl.String())
	d.Start()
	nc := connect(t, d)
	waitStreams(t, nc, "to_a", "to_b", "to_c", "from_a", "from_b", "from_c")

	pg.Exec(t, "a", "INSERT INTO t VALUES (1, 'WA', 'from a')")
	want := func(db, rows string) func() error {
		return func() error {
			got, err := rowsText(nodes[db], "SELECT id, state, v FROM t ORDER BY id")
			if err != nil {
				return err
			}
			if got != rows {
				return fmt.Errorf("%s holds %q, want %q", db, got, rows)
			}
			return nil
		}
	}
	for _, w := range []func() error{want("hub", "1|WA|from a\n"), want("c", "1|WA|from a\n"), want("b", "")} {
		testenv.Eventually(t, time.Minute, 100*time.Millisecond, w)
	}

	pg.Exec(t, "hub", "UPDATE t SET state = 'OR' WHERE id = 1")
	for _, w := range []func() error{want("b", "1|OR|from a\n"), want("a", ""), want("c", ""), want("hub", "1|OR|from a\n")} {
		testenv.Eventually(t, time.Minute, 100*time.Millisecond, w)
	}
	// A marker from the hub to a, after which every echo would be in.
	pg.Exec(t, "hub", "INSERT INTO t VALUES (2, 'WA', 'marker')")
	waitRow(t, nodes["a"], 2)

	// The row came from a: to_a carries only its exit, never the row
	// itself; from_a carries a's insert only, not the delete syncd
	// applied there.
	got := map[string][]string{}
	for _, sc := range []string{"to_a", "to_b", "to_c", "from_a"} {
		for _, m := range readStream(t, nc, sc) {
			got[sc] = append(got[sc], fmt.Sprintf("%s %s", m.Env.Op, m.Env.Scope.Reason))
		}
	}
	for sc, w := range map[string]string{
		"to_a":   "d scope_exit,c change", // the exit of row 1, the marker
		"to_b":   "c scope_enter",
		"to_c":   "c change,d scope_exit,c change",
		"from_a": "c change",
	} {
		if g := strings.Join(got[sc], ","); g != w {
			t.Errorf("stream %s holds %s, want %s", sc, g, w)
		}
	}

	// A row at a outside a's scope: the hub holds it, to_a's copy does
	// not. A resync of to_a must keep it at a (a delete there would lose
	// it: syncd applies it with the origin mark, so it never reaches the
	// hub to be sent back). A hub insert after the copy shows it applied.
	pg.Exec(t, "a", "INSERT INTO t VALUES (3, 'CA', 'a outside its scope')")
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, want("hub", "1|OR|from a\n2|WA|marker\n3|CA|a outside its scope\n"))
	if code, out := runSyncd(t, "resync", "--config", d.ConfigPath, "to_a"); code != 0 {
		t.Fatalf("syncd resync to_a: exit %d\n%s", code, out)
	}
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		for _, m := range readRows(t, nc, "to_a") {
			if m.Env.Scope.Reason == "resync" {
				return nil
			}
		}
		return fmt.Errorf("stream to_a holds no resync copy yet")
	})
	pg.Exec(t, "hub", "INSERT INTO t VALUES (4, 'WA', 'after the resync')")
	waitRow(t, nodes["a"], 4)
	for _, w := range []func() error{
		want("a", "2|WA|marker\n3|CA|a outside its scope\n4|WA|after the resync\n"),
		want("hub", "1|OR|from a\n2|WA|marker\n3|CA|a outside its scope\n4|WA|after the resync\n"),
	} {
		if err := w(); err != nil {
			t.Errorf("after a resync of to_a: %v", err)
		}
	}

	// newer_wins through the hub: a's update reaches the hub and c
	// stamped with the time it committed at a, not when syncd applied
	// it (else the hub would count a late arrival as newer).
	commitTS := func(db string) string {
		got, err := rowsText(nodes[db], "SELECT pg_xact_commit_timestamp(xmin) FROM t WHERE id = 2")
		if err != nil {
			t.Fatalf("commit time of row 2 at %s: %v", db, err)
		}
		return got
	}
	pg.Exec(t, "a", "UPDATE t SET v = 'a again' WHERE id = 2")
	for _, db := range []string{"hub", "c"} {
		waitValue(t, nodes[db], 2, "a again")
		if got, at := commitTS(db), commitTS("a"); got != at {
			t.Errorf("row 2 at %s has commit time %q, want a's %q", db, got, at)
		}
	}
	// a, then c, update row 2 while syncd is down: c's is newer, and
	// wins at the hub and at a (and c keeps it) in either order.
	d.Stop()
	pg.Exec(t, "a", "UPDATE t SET v = 'a older' WHERE id = 2")
	pg.Exec(t, "c", "UPDATE t SET v = 'c newer' WHERE id = 2")
	d.Start()
	for _, db := range []string{"hub", "a", "c"} {
		waitValue(t, nodes[db], 2, "c newer")
	}
}
