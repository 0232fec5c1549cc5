package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// A scope change is tested on table item: 1,000 static rows (ids 1 to
// 1000) that nothing writes, so that what a change sends of them is known
// exactly, and rows 1001 to 1100 that a writer inserts, moves in and out
// of the filters and deletes while syncd restarts with the new definition
// and takes the difference.

// staticPrice and staticGrp are static row id's price and grp (nil: NULL).
func staticPrice(id int) int { return id * 37 % 1000 }

func staticGrp(id int) *int {
	if id%3 == 0 {
		return nil
	}
	g := id % 3
	return &g
}

const itemDDL = `CREATE TABLE item (id int PRIMARY KEY, price int NOT NULL, grp int, note varchar(20))`

// itemRows fills item with the static rows, numbered g by series.
func itemRows(series string) string {
	return `INSERT INTO item (id, price, grp, note)
SELECT g, g * 37 % 1000, CASE g % 3 WHEN 0 THEN NULL ELSE g % 3 END, CONCAT('note ', g) FROM ` + series
}

// scopeStep is one definition of scope "items", and what it admits.
type scopeStep struct {
	name    string
	where   string // with params :lo and :hi
	lo, hi  int
	columns []string
	admits  func(price int, grp *int) bool
}

func (s scopeStep) config(table string) string {
	return fmt.Sprintf(`
template "items" {
  params = ["lo", "hi"]
  table %q {
    where   = %q
    columns = [%s]
  }
}
scope "items" {
  source   = "%%s"
  targets  = %%s
  template = "items"
  params   = { lo = %d, hi = %d }
}`, table, s.where, `"`+strings.Join(s.columns, `", "`)+`"`, s.lo, s.hi)
}

// filterSQL is the step's filter as SQL for both engines.
func (s scopeStep) filterSQL() string {
	return strings.NewReplacer(":lo", fmt.Sprint(s.lo), ":hi", fmt.Sprint(s.hi)).Replace(s.where)
}

func inRange(lo, hi int) func(int) bool { return func(p int) bool { return p >= lo && p < hi } }

var (
	cols3    = []string{"id", "price", "grp"}
	cols4    = []string{"id", "price", "grp", "note"}
	in500    = inRange(500, 1000)
	in300    = inRange(300, 800)
	initial  = scopeStep{"initial", "price >= :lo AND price < :hi AND grp = 1", 500, 1000, cols3, func(p int, g *int) bool { return in500(p) && g != nil && *g == 1 }}
	widened  = scopeStep{"widened", "price >= :lo AND price < :hi", 500, 1000, cols3, func(p int, g *int) bool { return in500(p) }}
	narrowed = scopeStep{"narrowed", "price >= :lo AND price < :hi AND grp IS NOT NULL", 500, 1000, cols3, func(p int, g *int) bool { return in500(p) && g != nil }}
	colAdded = scopeStep{"column added", narrowed.where, 500, 1000, cols4, narrowed.admits}
	params   = scopeStep{"params changed", narrowed.where, 300, 800, cols4, func(p int, g *int) bool { return in300(p) && g != nil }}
)

// changeRig is what a scope-change test needs of its engines.
type changeRig struct {
	d        *testenv.Syncd
	body     string                // config before the scope, with %s for it
	table    string                // the scope's table, schema-qualified
	src      *sql.DB               // the source, for the writer
	upsert   string                // (id, price, grp) upsert at the source
	del      string                // delete by id at the source
	waitSame func(src, dst string) // waits until the source rows of src equal the target rows of dst
	source   string                // the source's name
	targets  string                // HCL list of targets
	streamed func() []streamedRow  // the scope's messages
	restarts []string              // the steps applied by a restart; the others by SIGHUP
	// editTarget, if set, runs a statement at each target: the rig then
	// edits rows there by hand and repairs them with syncd resync.
	editTarget func(stmt string)
	// written, if set, counts the writer's statements that succeeded.
	written *atomic.Int64
	// checks makes the rig run syncd plan before each change and send
	// SIGHUP with an invalid config once (issue 18's tests 6 and 5).
	checks bool
}

type streamedRow struct {
	op, reason string
	version    int
	id         int
}

// runScopeChanges starts syncd with the first step's definition, then, for
// each next step, reloads (SIGHUP) or restarts it (rig.restarts) with that
// definition while a writer moves
// rows in and out of the filters, and checks that the stream holds, with
// the step's scope version, no truncate, a backfill of each static row
// entering (every static row in scope when a column is added) and a
// scope_exit delete of each static row leaving, and that the target then
// equals the source filtered by the new definition.
func runScopeChanges(t *testing.T, rig *changeRig, steps []scopeStep) {
	t.Helper()
	configure := func(s scopeStep) {
		scope := fmt.Sprintf(s.config(rig.table), rig.source, rig.targets)
		writeFile(t, rig.d.ConfigPath, strings.Replace(rig.body, "%s", scope, 1))
	}
	check := func(s scopeStep) {
		t.Helper()
		cols := strings.Join(s.columns, ", ")
		rig.waitSame(fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY id", cols, rig.table, s.filterSQL()),
			fmt.Sprintf("SELECT %s FROM %s ORDER BY id", cols, rig.table))
	}
	// change reloads or restarts syncd with the config write writes,
	// under the writer, and waits for the copy it takes.
	change := func(name string, write func(), plan ...string) {
		t.Helper()
		stop := startWriter(t, rig)
		done := strings.Count(rig.d.Logs(), `snapshot done`)
		write()
		if rig.checks {
			code, out := runSyncd(t, "plan", "--config", rig.d.ConfigPath)
			for _, want := range plan {
				if code != 2 || !strings.Contains(out, want) {
					t.Errorf("%s: syncd plan exit %d, want 2 and %q:\n%s", name, code, want, out)
				}
			}
		}
		if !slices.Contains(rig.restarts, name) {
			if err := rig.d.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		} else {
			rig.d.Stop()
			done = strings.Count(rig.d.Logs(), `snapshot done`)
			rig.d.Start()
		}
		testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
			if strings.Count(rig.d.Logs(), `snapshot done`) == done {
				return fmt.Errorf("%s: the scope change's copy is not done", name)
			}
			return nil
		})
		stop()
	}
	configure(steps[0])
	rig.d.Start()
	check(steps[0])
	for i, s := range steps[1:] {
		old, version := steps[i], i+2
		plan := []string{"~ table " + rig.table}
		if len(s.columns) > len(old.columns) {
			plan = append(plan, "+ column note")
		} else {
			plan = append(plan, "~ filter: ")
		}
		change(s.name, func() { configure(s) }, plan...)
		check(s)

		var wantIn, wantOut, gotIn, gotOut []int
		for id := 1; id <= 1000; id++ {
			was, is := old.admits(staticPrice(id), staticGrp(id)), s.admits(staticPrice(id), staticGrp(id))
			if is && (!was || len(s.columns) > len(old.columns)) {
				wantIn = append(wantIn, id)
			}
			if was && !is {
				wantOut = append(wantOut, id)
			}
		}
		for _, m := range rig.streamed() {
			switch {
			case m.version != version, m.op == "e": // e: the end of a copy without rows
			case m.op == "t":
				t.Fatalf("%s: the stream holds a truncate of version %d", s.name, version)
			case m.id > 1000:
			case m.reason == "backfill" && m.op == "r":
				gotIn = append(gotIn, m.id)
			case m.reason == "scope_exit" && m.op == "d":
				gotOut = append(gotOut, m.id)
			default:
				t.Fatalf("%s: static row %d sent as %s with reason %s", s.name, m.id, m.op, m.reason)
			}
		}
		slices.Sort(gotIn)
		slices.Sort(gotOut)
		if !slices.Equal(gotIn, wantIn) || !slices.Equal(gotOut, wantOut) {
			t.Fatalf("%s: static rows backfilled %d %v, want %d; deleted as scope_exit %d %v, want %d",
				s.name, len(gotIn), head(gotIn), len(wantIn), len(gotOut), head(gotOut), len(wantOut))
		}
		t.Logf("%s: %d static rows backfilled, %d deleted", s.name, len(gotIn), len(gotOut))
	}

	if rig.checks {
		// A config that does not validate, sent by SIGHUP, is rejected
		// whole: the scope streams on as before.
		last := steps[len(steps)-1]
		good := readFile(t, rig.d.ConfigPath)
		writeFile(t, rig.d.ConfigPath, strings.Replace(good, "template = ", "templat = ", 1))
		stop := startWriter(t, rig)
		if err := rig.d.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, 50*time.Millisecond, func() error {
			if rl := reloadState(t, rig.d); rl.Outcome != "rejected" {
				return fmt.Errorf("/scopes reload %+v, want rejected", rl)
			}
			return nil
		})
		stop()
		check(last)
		writeFile(t, rig.d.ConfigPath, good)
	}
	if rig.editTarget != nil {
		// A row in scope deleted at the targets by hand and one updated:
		// syncd resync repairs both (issue 18's test 7).
		last := steps[len(steps)-1]
		var in []int
		for id := 1; id <= 1000 && len(in) < 2; id++ {
			if last.admits(staticPrice(id), staticGrp(id)) {
				in = append(in, id)
			}
		}
		rig.editTarget(fmt.Sprintf("DELETE FROM %s WHERE id = %d", rig.table, in[0]))
		rig.editTarget(fmt.Sprintf("UPDATE %s SET price = -1 WHERE id = %d", rig.table, in[1]))
		if code, out := runSyncd(t, "resync", "--config", rig.d.ConfigPath, "items"); code != 0 {
			t.Fatalf("syncd resync: exit %d\n%s", code, out)
		}
		check(last)
	}

	// Scope items removed, at targets with removed_tables = "empty",
	// while scope rest takes the table into another target table: the
	// targets' item tables are emptied, once each, and rest converges.
	change("scope removed", func() {
		body := strings.ReplaceAll(rig.body, "create_tables = true\n}", "create_tables  = true\n  removed_tables = \"empty\"\n}")
		writeFile(t, rig.d.ConfigPath, strings.Replace(body, "%s", fmt.Sprintf(`
scope "rest" {
  source  = %q
  targets = %s
  table %q {
    columns = ["id", "price", "grp"]
    where   = "price < 100"
    target  = %q
  }
}`, rig.source, rig.targets, rig.table, rig.table+"_rest"), 1))
	}, "- scope items", "rows to delete at target "+strings.NewReplacer(`[`, ``, `]`, ``, `"`, ``).Replace(rig.targets)+": ", "+ scope rest")
	rig.waitSame(fmt.Sprintf("SELECT id, price, grp FROM %s WHERE price < 100 ORDER BY id", rig.table),
		fmt.Sprintf("SELECT id, price, grp FROM %s_rest ORDER BY id", rig.table))
	rig.waitSame(fmt.Sprintf("SELECT id FROM %s WHERE false", rig.table), fmt.Sprintf("SELECT id FROM %s", rig.table))
	if got, want := strings.Count(rig.d.Logs(), "emptied its target table"), strings.Count(rig.targets, `"`)/2; got != want {
		t.Errorf("scope removed: target tables emptied %d times, want %d (once per target)", got, want)
	}

	// Scope items added back, by SIGHUP, after the writer changed rows
	// while it was gone: its targets, emptied, missed them, so its table
	// is copied afresh and they converge.
	last := steps[len(steps)-1]
	change("scope back", func() {
		writeFile(t, rig.d.ConfigPath, readFile(t, rig.d.ConfigPath)+fmt.Sprintf(last.config(rig.table), rig.source, rig.targets))
	})
	check(last)
}

func head(ids []int) []int { return ids[:min(len(ids), 10)] }

// startWriter upserts and deletes rows 1001 to 1100 at the source with
// random prices and groups until the returned stop is called; stop
// waits for it and fails the test if a write failed.
func startWriter(t *testing.T, rig *changeRig) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		rnd := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
		for {
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-tick.C:
			}
			id := 1001 + rnd.IntN(100)
			var err error
			if rnd.IntN(7) == 0 {
				_, err = rig.src.ExecContext(ctx, rig.del, id)
			} else {
				var grp any
				if g := rnd.IntN(3); g > 0 {
					grp = g
				}
				_, err = rig.src.ExecContext(ctx, rig.upsert, id, rnd.IntN(1000), grp)
			}
			if err != nil && ctx.Err() == nil {
				done <- fmt.Errorf("writer: %w", err)
				return
			}
			if err == nil && rig.written != nil {
				rig.written.Add(1)
			}
		}
	}()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// streamedRows reads the scope's messages from the daemon.
func streamedRows(t *testing.T, d *testenv.Syncd) func() []streamedRow {
	return func() []streamedRow {
		var out []streamedRow
		for _, m := range readRows(t, connect(t, d), "items") {
			row := m.Env.After
			if row == nil {
				row = m.Env.Before
			}
			var id int
			if row != nil {
				fmt.Sscan(fmt.Sprint(row["id"]), &id)
			}
			out = append(out, streamedRow{op: m.Env.Op, reason: m.Env.Scope.Reason, version: m.Env.Scope.Version, id: id})
		}
		return out
	}
}

// TestScopeChangePostgres changes a running scope from a PostgreSQL source
// four times: the filter widened (over rows whose old filter is NULL),
// then narrowed, by SIGHUP; a column added, by a restart; template params
// changed, by SIGHUP. Each change sends only the difference, never a
// truncate, and the target converges. Then the scope is removed by SIGHUP
// and the target, with removed_tables = "empty", empties its table; added
// back by SIGHUP, the scope is copied afresh and the target converges.
func TestScopeChangePostgres(t *testing.T) {
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", itemDDL, itemRows("generate_series(1, 1000) g"))
	}, "")
	src, err := sql.Open("pgx", r.srcDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	rig := &changeRig{
		d:      r.d,
		body:   readFile(t, r.d.ConfigPath) + "%s\n",
		table:  "public.item",
		src:    src,
		upsert: `INSERT INTO item (id, price, grp, note) VALUES ($1, $2, $3, 'live') ON CONFLICT (id) DO UPDATE SET price = EXCLUDED.price, grp = EXCLUDED.grp`,
		del:    `DELETE FROM item WHERE id = $1`,
		waitSame: func(srcQuery, dstQuery string) {
			waitIdentical(t, r, time.Minute, []string{srcQuery}, []string{dstQuery})
		},
		source:   "app",
		targets:  `["replica"]`,
		streamed: streamedRows(t, r.d),
		restarts: []string{colAdded.name},
	}
	runScopeChanges(t, rig, []scopeStep{initial, widened, narrowed, colAdded, params})
}

// TestScopeChangeMariaDB makes the changes of TestScopeChangePostgres to a
// running scope on a MariaDB source, replicated into MariaDB and
// PostgreSQL, each checked first with syncd plan; a SIGHUP with a config
// that does not validate leaves the scope streaming; then it repairs rows
// edited at the targets by hand with syncd resync, and removes the scope
// by a restart. Last, syncd plan reads scope_info tables that an earlier
// syncd created at both targets (planOldScopeInfo).
func TestScopeChangeMariaDB(t *testing.T) {
	c := newCrossEngine(t, "shop", func(c *crossEngine) {
		c.src.Exec(t, "shop", itemDDL, itemRows("(SELECT seq AS g FROM seq_1_to_1000) s"))
	}, "")
	src, err := sql.Open("mysql", c.srcDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	rig := &changeRig{
		d:      c.d,
		body:   readFile(t, c.d.ConfigPath) + "%s\n",
		table:  "shop.item",
		src:    src,
		upsert: `INSERT INTO item (id, price, grp, note) VALUES (?, ?, ?, 'live') ON DUPLICATE KEY UPDATE price = VALUES(price), grp = VALUES(grp)`,
		del:    `DELETE FROM item WHERE id = ?`,
		waitSame: func(srcQuery, dstQuery string) {
			testenv.Eventually(t, time.Minute, time.Second, func() error { return c.sameRows(srcQuery, dstQuery) })
		},
		source:   "shop",
		targets:  `["copy", "pgcopy"]`,
		streamed: streamedRows(t, c.d),
		restarts: []string{colAdded.name, "scope removed"},
		checks:   true,
		editTarget: func(stmt string) {
			c.dst.Exec(t, "shop", stmt)
			c.pg.Exec(t, "replica", stmt)
		},
	}
	runScopeChanges(t, rig, []scopeStep{initial, widened, narrowed, colAdded, params})
	planOldScopeInfo(t, c, c.d.ConfigPath)
}
