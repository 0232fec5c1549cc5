package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestTargetAddedAndResync adds targets to a scope that a PostgreSQL
// target has received for a while, and then repairs targets edited by
// hand with `syncd resync`, on one PostgreSQL server (source and target
// databases) and one MariaDB server.
//
// A second PostgreSQL target added gets a copy of its own and skips what
// the stream held before it: it applies the scope's rows once, not the
// initial snapshot too. A MariaDB target is added when the stream no
// longer holds the scope's first messages (purged, as retention would
// have): it converges from its copy. The first target skips both copies:
// its rows_applied grows by the one live change only. Then each target gets
// a row deleted, one updated and one inserted (in scope, absent at the
// source) by hand; `syncd resync --target` repairs the MariaDB target
// alone while the daemon runs, and `syncd resync` without a target the
// PostgreSQL one.
func TestTargetAddedAndResync(t *testing.T) {
	pg, my := testenv.StartPostgres(t), testenv.StartMariaDB(t)
	srcDSN, pgDSN, pg2DSN := pg.CreateDB(t, "app"), pg.CreateDB(t, "replica"), pg.CreateDB(t, "replica2")
	myDSN := my.CreateDB(t, "copy")
	pg.Exec(t, "app", `CREATE TABLE item (id int PRIMARY KEY, name text, keep boolean NOT NULL)`,
		`INSERT INTO item SELECT g, 'n' || g, g % 10 <> 0 FROM generate_series(1, 300) g`)
	config := func(targets string) string {
		return fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
target "postgres" "pg" {
  dsn           = %q
  create_tables = true
}
target "postgres" "pg2" {
  dsn           = %q
  create_tables = true
}
target "mysql" "my" {
  dsn           = %q
  create_tables = true
}
scope "items" {
  source  = "app"
  targets = %s
  table "public.item" {
    where  = "keep = true"
    target = "copy.item"
  }
}`, srcDSN, pgDSN, pg2DSN, myDSN, targets)
	}
	d := newDaemon(t, config(`["pg"]`))
	d.Start()
	const (
		srcRows = `SELECT id, name FROM item WHERE keep ORDER BY id`
		dstRows = `SELECT id, name FROM copy.item ORDER BY id`
	)
	waitSameRows(t, srcDSN, []target{{"pg", "pgx", pgDSN}}, srcRows, dstRows)
	applied := scopeRowsApplied(t, "pgx", pgDSN)

	if code := d.Stop(); code != 0 {
		t.Fatalf("syncd exited %d on SIGTERM", code)
	}
	d.Rewrite(config(`["pg", "pg2"]`))
	d.Start()
	waitSameRows(t, srcDSN, []target{{"pg2", "pgx", pg2DSN}}, srcRows, dstRows)
	if got := scopeRowsApplied(t, "pgx", pg2DSN); got != 271 {
		t.Errorf("the target added applied %d rows, want 271: the scope's 270 rows once, after a truncate", got)
	}
	if got := scopeRowsApplied(t, "pgx", pgDSN); got != applied {
		t.Errorf("the first target's rows_applied went from %d to %d when a target was added", applied, got)
	}

	// Retention took the stream's messages: a new target cannot replay them.
	if err := openStream(t, d, router.StreamName("items")).Purge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := d.Stop(); code != 0 {
		t.Fatalf("syncd exited %d on SIGTERM", code)
	}

	d.Rewrite(config(`["pg", "pg2", "my"]`))
	d.Start()
	pg.Exec(t, "app", `UPDATE item SET name = 'live' WHERE id = 1`)
	targets := []target{{"pg", "pgx", pgDSN}, {"my", "mysql", myDSN}}
	waitSameRows(t, srcDSN, targets, srcRows, dstRows)
	if got := scopeRowsApplied(t, "pgx", pgDSN); got != applied+1 {
		t.Errorf("the PostgreSQL target's rows_applied went from %d to %d when a target was added, want %d: the one live change", applied, got, applied+1)
	}

	// Hand edits at both targets.
	for _, tg := range targets {
		execSQL(t, tg.driver, tg.dsn,
			`DELETE FROM copy.item WHERE id = 2`,
			`UPDATE copy.item SET name = 'by hand' WHERE id = 3`,
			`INSERT INTO copy.item (id, name, keep) VALUES (1000, 'by hand', true)`)
	}
	if code, out := runSyncd(t, "resync", "--config", d.ConfigPath, "--target", "my", "items"); code != 0 || !strings.Contains(out, `"scope": "items"`) {
		t.Fatalf("syncd resync --target my: exit %d\n%s", code, out)
	}
	if code, out := runSyncd(t, "resync", "--config", d.ConfigPath, "--table", "public.nope", "items"); code == 0 || !strings.Contains(out, "404") {
		t.Fatalf("syncd resync of a table the scope lacks: exit %d, want an error\n%s", code, out)
	}
	waitSameRows(t, srcDSN, targets[1:], srcRows, dstRows)
	if n, _, err := rowsHash("pgx", pgDSN, `SELECT id FROM copy.item WHERE id = 1000 OR id = 2 OR name = 'by hand'`); err != nil || n != 2 {
		t.Fatalf("the PostgreSQL target was repaired too (%d hand-edited rows left, %v): the resync was for the MariaDB target alone", n, err)
	}
	applied = scopeRowsApplied(t, "pgx", pgDSN)

	// A resync of every target while the source's rows change, move into
	// and out of the scope, come and go.
	stop := churnItems(t, srcDSN)
	if code, out := runSyncd(t, "resync", "--config", d.ConfigPath, "items"); code != 0 {
		t.Fatalf("syncd resync: exit %d\n%s", code, out)
	}
	testenv.Eventually(t, 2*time.Minute, 200*time.Millisecond, func() error {
		var doc struct {
			Scopes []struct {
				Name    string
				Resyncs []json.RawMessage
			}
		}
		if err := json.Unmarshal([]byte(adminGet(t, d, "/scopes", "")), &doc); err != nil {
			return err
		}
		if len(doc.Scopes) != 1 || len(doc.Scopes[0].Resyncs) != 0 {
			return fmt.Errorf("/scopes shows resyncs under way: %+v", doc.Scopes)
		}
		return nil
	})
	t.Logf("%d source transactions during the resync", stop())
	targets = append(targets, target{"pg2", "pgx", pg2DSN})
	waitSameRows(t, srcDSN, targets, srcRows, dstRows)
	if got := scopeRowsApplied(t, "pgx", pgDSN); got <= applied {
		t.Errorf("rows_applied of the PostgreSQL target stayed %d after its resync", got)
	}
}

// TestTargetAddedMariaDB adds a PostgreSQL target, by a restart, to a
// scope that a MariaDB target has received from a MariaDB source, while a
// writer moves rows in and out of the scope's filter (issue 18's test 4
// on a MariaDB source). The target added converges to the source filtered
// by the scope, and the first target skips its copy: its rows_applied
// grows by at most the writer's changes, not by the scope's size.
func TestTargetAddedMariaDB(t *testing.T) {
	// Rows 1001 to 1100 are the writer's; the other 13,000 are static.
	c := newCrossEngine(t, "shop", func(c *crossEngine) {
		c.src.Exec(t, "shop", itemDDL, itemRows("(SELECT seq AS g FROM seq_1_to_1000 UNION ALL SELECT seq FROM seq_2001_to_14000) s"))
	}, `scope "items" {
  source  = "shop"
  targets = ["copy"]
  table "shop.item" {
    where = "grp IS NOT NULL"
  }
}`)
	src := testenv.OpenDB(t, "mysql", c.srcDSN)
	const (
		srcRows = `SELECT id, price, grp, note FROM shop.item WHERE grp IS NOT NULL ORDER BY id`
		dstRows = `SELECT id, price, grp, note FROM shop.item ORDER BY id`
	)
	var inScope int
	if err := src.QueryRow(`SELECT count(*) FROM item WHERE grp IS NOT NULL`).Scan(&inScope); err != nil {
		t.Fatal(err)
	}
	first := []target{{"copy", "mysql", c.dstDSN}}
	c.d.Start()
	waitTargetRows(t, "mysql", c.srcDSN, first, srcRows, dstRows)
	applied := rowsAppliedOf(t, "mysql", c.dstDSN, "items")

	rig := &changeRig{
		src:     src,
		upsert:  `INSERT INTO item (id, price, grp, note) VALUES (?, ?, ?, 'live') ON DUPLICATE KEY UPDATE price = VALUES(price), grp = VALUES(grp)`,
		del:     `DELETE FROM item WHERE id = ?`,
		written: new(atomic.Int64),
	}
	stop := startWriter(t, rig)
	if code := c.d.Stop(); code != 0 {
		t.Fatalf("syncd exited %d on SIGTERM", code)
	}
	writeFile(t, c.d.ConfigPath, strings.Replace(readFile(t, c.d.ConfigPath), `targets = ["copy"]`, `targets = ["copy", "pgcopy"]`, 1))
	done := strings.Count(c.d.Logs(), "snapshot done")
	c.d.Start()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		if strings.Count(c.d.Logs(), "snapshot done") == done {
			return fmt.Errorf("the added target's copy is not done")
		}
		return nil
	})
	stop()
	waitTargetRows(t, "mysql", c.srcDSN, c.targets(), srcRows, dstRows)
	written := rig.written.Load()
	if written >= int64(inScope) {
		t.Fatalf("the writer made %d changes, as many as the scope's %d rows: the test cannot tell a copy from them", written, inScope)
	}
	if got := rowsAppliedOf(t, "mysql", c.dstDSN, "items"); got-applied > written {
		t.Errorf("the first target's rows_applied went from %d to %d when a target was added: %d more than the writer's %d changes (the scope holds %d rows)", applied, got, got-applied-written, written, inScope)
	} else {
		t.Logf("the first target applied %d rows (the writer made %d changes; the scope holds %d rows)", got-applied, written, inScope)
	}
}

// waitSameRows waits until dstQuery returns at each target the rows
// srcQuery returns at the PostgreSQL source.
func waitSameRows(t *testing.T, srcDSN string, targets []target, srcQuery, dstQuery string) {
	t.Helper()
	waitTargetRows(t, "pgx", srcDSN, targets, srcQuery, dstQuery)
}

// waitTargetRows waits until dstQuery returns at each target the rows
// srcQuery returns at the source, whose driver is srcDriver.
func waitTargetRows(t *testing.T, srcDriver, srcDSN string, targets []target, srcQuery, dstQuery string) {
	t.Helper()
	testenv.Eventually(t, 2*time.Minute, 200*time.Millisecond, func() error {
		n, want, err := rowsHash(srcDriver, srcDSN, srcQuery)
		if err != nil {
			return err
		}
		for _, tg := range targets {
			m, got, err := rowsHash(tg.driver, tg.dsn, dstQuery)
			if err != nil {
				return fmt.Errorf("target %s: %w", tg.name, err)
			}
			if m != n || got != want {
				return fmt.Errorf("source %d rows (%s), target %s %d rows (%s)", n, want, tg.name, m, got)
			}
		}
		return nil
	})
}

// scopeRowsApplied returns the rows scope items has applied from source
// app at a target.
func scopeRowsApplied(t *testing.T, driver, dsn string) int64 {
	t.Helper()
	return rowsAppliedOf(t, driver, dsn, "items")
}

// rowsAppliedOf returns the rows_applied of scope's scope_info row at a
// target.
func rowsAppliedOf(t *testing.T, driver, dsn, scope string) int64 {
	t.Helper()
	var n int64
	db := testenv.OpenDB(t, driver, dsn)
	if err := db.QueryRow(`SELECT rows_applied FROM syncd_scope_info WHERE scope = '` + scope + `'`).Scan(&n); err != nil {
		t.Fatalf("read rows_applied of %s: %v", scope, err)
	}
	return n
}

// execSQL runs statements at a target.
func execSQL(t *testing.T, driver, dsn string, stmts ...string) {
	t.Helper()
	db := testenv.OpenDB(t, driver, dsn)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// churnItems changes rows of the source's item table until stop is
// called: names, the keep flag (rows enter and leave the scope), inserts
// and deletes. stop waits for the writer and returns how many
// transactions it committed.
func churnItems(t *testing.T, dsn string) (stop func() int) {
	t.Helper()
	conn := pgConnect(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	n, done := 0, make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			id := 1 + i*37%300
			var err error
			switch i % 4 {
			case 0:
				_, err = conn.Exec(ctx, `UPDATE item SET name = $1 WHERE id = $2`, fmt.Sprint("w", i), id)
			case 1:
				_, err = conn.Exec(ctx, `UPDATE item SET keep = NOT keep WHERE id = $1`, id)
			case 2:
				_, err = conn.Exec(ctx, `INSERT INTO item VALUES ($1, 'new', true) ON CONFLICT (id) DO UPDATE SET name = 'again'`, 2000+i%50)
			case 3:
				_, err = conn.Exec(ctx, `DELETE FROM item WHERE id = $1`, 2000+(i+25)%50)
			}
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("write items: %v", err)
				}
				return
			}
			n++
		}
	}()
	stop = func() int {
		cancel()
		<-done
		return n
	}
	t.Cleanup(func() { stop() })
	return stop
}
