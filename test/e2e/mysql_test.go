package e2e

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/syncd-dev/syncd/test/testenv"
)

// crossEngine is a MariaDB source, a MariaDB target and a PostgreSQL
// target, and syncd between them.
type crossEngine struct {
	src, dst *testenv.MariaDB
	pg       *testenv.Postgres
	srcDSN   string
	dstDSN   string // MariaDB target
	pgDSN    string // PostgreSQL target
	d        *testenv.Syncd
}

// newCrossEngine creates database db on a new MariaDB source and runs
// setup there, and prepares syncd with source "shop" (MySQL), targets
// "copy" (MariaDB) and "pgcopy" (PostgreSQL), both creating tables, and
// the given scopes.
func newCrossEngine(t *testing.T, db string, setup func(c *crossEngine), scopesHCL string) *crossEngine {
	t.Helper()
	c := &crossEngine{src: testenv.StartMariaDB(t), dst: testenv.StartMariaDB(t, testenv.WithServerID(2)), pg: testenv.StartPostgres(t)}
	c.srcDSN = c.src.CreateDB(t, db)
	c.dstDSN = c.dst.CreateDB(t, "syncd") // scope_info lives here; tables go to their own databases
	c.pgDSN = c.pg.CreateDB(t, "replica")
	setup(c)
	c.d = newDaemon(t, fmt.Sprintf(`
source "mysql" "shop" {
  dsn       = %q
  server_id = 4001
}
target "mysql" "copy" {
  dsn           = %q
  create_tables = true
}
target "postgres" "pgcopy" {
  dsn           = %q
  create_tables = true
}
%s`, c.srcDSN, c.dstDSN, c.pgDSN, scopesHCL))
	return c
}

// rowsHash returns the row count and an md5 of the rows of query, which
// must order them, in a form both engines agree on: every value as text,
// trailing spaces trimmed (MySQL drops them from CHAR values, PostgreSQL
// pads them), NULL as \N.
func rowsHash(driver, dsn, query string) (int, string, error) {
	rows, err := queryRows(driver, dsn, query)
	if err != nil {
		return 0, "", err
	}
	h := md5.New()
	for _, row := range rows {
		for i, v := range row {
			if i > 0 {
				h.Write([]byte{'|'})
			}
			h.Write([]byte(strings.TrimRight(v, " ")))
		}
		h.Write([]byte{'\n'})
	}
	return len(rows), hex.EncodeToString(h.Sum(nil)), nil
}

// queryRows returns the rows of query, each value as text (NULL as \N).
func queryRows(driver, dsn, query string) ([][]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = `\N`
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func joinRows(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, "|")
	}
	return out
}

// target is one of a crossEngine's target databases.
type target struct{ name, driver, dsn string }

// targets returns the MariaDB and the PostgreSQL target.
func (c *crossEngine) targets() []target {
	return []target{{"mariadb", "mysql", c.dstDSN}, {"postgres", "pgx", c.pgDSN}}
}

// waitSame waits until query returns the same rows at the source and at
// both targets.
func (c *crossEngine) waitSame(t *testing.T, timeout time.Duration, queries ...string) {
	t.Helper()
	testenv.Eventually(t, timeout, time.Second, func() error {
		for _, q := range queries {
			if err := c.sameRows(q, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// sameRows checks that srcQuery returns at the source the rows dstQuery
// returns at both targets.
func (c *crossEngine) sameRows(srcQuery, dstQuery string) error {
	n, want, err := rowsHash("mysql", c.srcDSN, srcQuery)
	if err != nil {
		return err
	}
	for _, target := range c.targets() {
		m, got, err := rowsHash(target.driver, target.dsn, dstQuery)
		if err != nil {
			return fmt.Errorf("%s target: %w", target.name, err)
		}
		if m != n || got != want {
			return fmt.Errorf("%s: source %d rows (%s), %s target %d rows (%s)", srcQuery, n, want, target.name, m, got)
		}
	}
	return nil
}

var sysbenchTables = []string{
	`SELECT id, k, c, pad FROM sbtest.sbtest1 ORDER BY id`,
	`SELECT id, k, c, pad FROM sbtest.sbtest2 ORDER BY id`,
}

const sysbenchScope = `
scope "sb" {
  source  = "shop"
  targets = ["copy", "pgcopy"]
  table "sbtest.sbtest1" {}
  table "sbtest.sbtest2" {}
}`

// runSysbench prepares sysbench's tables on a MariaDB source, starts
// syncd (the initial snapshot runs under load), runs oltp_write_only for
// 30 seconds while disrupt does its damage, and checks that both targets
// end identical to the source.
func runSysbench(t *testing.T, disrupt func(c *crossEngine)) *crossEngine {
	c := newCrossEngine(t, "sbtest", func(c *crossEngine) {
		if err := c.src.Sysbench(context.Background(), "oltp_write_only", "prepare", "sbtest", "--tables=2", "--table-size=10000"); err != nil {
			t.Fatal(err)
		}
	}, sysbenchScope)
	c.d.Start()
	done := make(chan error, 1)
	go func() {
		done <- c.src.Sysbench(context.Background(), "oltp_write_only", "run", "sbtest", "--tables=2", "--table-size=10000", "--threads=4", "--time=30")
	}()
	if disrupt != nil {
		disrupt(c)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.waitSame(t, 3*time.Minute, sysbenchTables...)
	return c
}

// TestSysbench replicates sysbench's oltp_write_only from MariaDB into
// MariaDB and PostgreSQL with one scope.
func TestSysbench(t *testing.T) {
	runSysbench(t, nil)
}

// TestSysbenchKilled kills syncd three times during the workload.
func TestSysbenchKilled(t *testing.T) {
	runSysbench(t, func(c *crossEngine) {
		for _, at := range []time.Duration{5 * time.Second, 7 * time.Second, 8 * time.Second} {
			// sleep-ok: fault schedule: syncd is killed 5, 12 and 20 s into the workload
			time.Sleep(at)
			c.d.Kill()
			t.Log("killed syncd")
			c.d.Start()
		}
	})
}

// TestSysbenchServersRestart restarts the servers around syncd. During
// the workload the MariaDB target is down until the PostgreSQL target,
// which goes on applying, has committed more rows (one target does not
// hold up another), and then the PostgreSQL target is down for 5
// seconds. After it the MariaDB source restarts, which starts a new
// binlog file, and more is written. Each outage shows in /readyz; both
// targets end identical.
func TestSysbenchServersRestart(t *testing.T) {
	c := runSysbench(t, func(c *crossEngine) {
		time.Sleep(5 * time.Second) // sleep-ok: fault schedule: the MariaDB target stops 5 s into the workload
		c.dst.Stop(t)
		waitNotReady(t, c.d, "scope/sb/target/copy", "target_unavailable")
		before := rowsApplied(t, "pgx", c.pgDSN)
		var after int64
		testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
			if after = rowsApplied(t, "pgx", c.pgDSN); after <= before {
				return fmt.Errorf("the PostgreSQL target applied no rows while the MariaDB target was down: rows_applied still %d", after)
			}
			return nil
		})
		t.Logf("the PostgreSQL target applied rows %d to %d while the MariaDB target was down", before, after)
		c.dst.Start(t)
		time.Sleep(2 * time.Second) // sleep-ok: fault schedule: the PostgreSQL target stops 2 s after the MariaDB one is back
		c.pg.Stop(t)
		waitNotReady(t, c.d, "scope/sb/target/pgcopy", "target_unavailable")
		time.Sleep(5 * time.Second) // sleep-ok: fault schedule: the PostgreSQL target stays down 5 s during the workload
		c.pg.Start(t)
	})

	t.Log("restarting the source")
	c.src.Stop(t)
	waitNotReady(t, c.d, "source/shop", "source_disconnected")
	c.src.Start(t)
	if err := c.src.Sysbench(context.Background(), "oltp_write_only", "run", "sbtest", "--tables=2", "--table-size=10000", "--threads=4", "--time=5"); err != nil {
		t.Fatal(err)
	}
	c.waitSame(t, 3*time.Minute, sysbenchTables...)
	waitReady(t, c.d, time.Minute)
}

// waitReady waits until /readyz answers 200.
func waitReady(t *testing.T, d *testenv.Syncd, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, 200*time.Millisecond, func() error {
		if code, body := getStatus(t, d.AdminURL+"/readyz"); code != http.StatusOK {
			return fmt.Errorf("/readyz %d %s", code, body)
		}
		return nil
	})
}

// waitNotReady waits until /readyz names cause for component.
func waitNotReady(t *testing.T, d *testenv.Syncd, component, cause string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		code, body := getStatus(t, d.AdminURL+"/readyz")
		var r struct {
			Causes []struct{ Component, Cause string }
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return fmt.Errorf("/readyz %d %s: %w", code, body, err)
		}
		for _, c := range r.Causes {
			if c.Component == component && c.Cause == cause {
				return nil
			}
		}
		return fmt.Errorf("/readyz %d %s: no %s for %s", code, body, cause, component)
	})
}

// rowsApplied returns the rows scope sb has applied from source shop at
// a target, from its scope_info table.
func rowsApplied(t *testing.T, driver, dsn string) int64 {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT rows_applied FROM syncd_scope_info WHERE scope = 'sb' AND source = 'shop'`).Scan(&n); err != nil {
		t.Fatalf("read rows_applied: %v", err)
	}
	return n
}

// itemsInMySQLBacklog creates shop.items with ddl on a new MariaDB source,
// replicated by scope "items" to both targets, and waits for the row
// first to arrive. Then, with syncd stopped, it runs backlog at the
// source and starts syncd again, which reads the backlog only after all
// of it is logged.
func itemsInMySQLBacklog(t *testing.T, ddl, first string, backlog ...string) *crossEngine {
	t.Helper()
	c := newCrossEngine(t, "shop", func(c *crossEngine) { c.src.Exec(t, "shop", ddl) }, `
scope "items" {
  source   = "shop"
  targets  = ["copy", "pgcopy"]
  table "shop.items" {}
}`)
	c.d.Start()
	c.src.Exec(t, "shop", first)
	c.waitSame(t, time.Minute, `SELECT * FROM shop.items ORDER BY id`)
	c.d.Stop()
	c.src.Exec(t, "shop", backlog...)
	c.d.Start()
	return c
}

// TestAlterInBacklog adds a column while changes from before it are still
// unread: every row lands in the right columns at both targets, which
// get the new column from create_tables.
func TestAlterInBacklog(t *testing.T) {
	// Rows in the old shape, a new column before qty, rows in the new
	// shape, and updates of old rows.
	c := itemsInMySQLBacklog(t, "CREATE TABLE items (id int PRIMARY KEY, name varchar(20), qty int)",
		"INSERT INTO items VALUES (0, 'zero', 0)",
		"INSERT INTO items VALUES (1, 'one', 1), (2, 'two', 2)",
		"ALTER TABLE items ADD COLUMN color varchar(10) AFTER name",
		"INSERT INTO items VALUES (3, 'three', 'red', 3)",
		"UPDATE items SET color = 'blue', qty = qty + 10 WHERE id = 1")
	c.waitSame(t, time.Minute, `SELECT id, name, color, qty FROM shop.items ORDER BY id`)
}

// TestDropColumnInBacklog drops a column while changes from before it
// are still unread: both targets keep the column, with the values from
// before the drop, and every other value lands in its own column.
func TestDropColumnInBacklog(t *testing.T) {
	// Rows in the old shape, note dropped (qty moves one place left),
	// rows in the new shape, and updates of old rows.
	c := itemsInMySQLBacklog(t, "CREATE TABLE items (id int PRIMARY KEY, name varchar(20), note varchar(10) NOT NULL, qty int)",
		"INSERT INTO items VALUES (0, 'zero', 'n0', 0)",
		"INSERT INTO items VALUES (1, 'one', 'n1', 1), (2, 'two', 'n2', 2)",
		"UPDATE items SET note = 'n0 again' WHERE id = 0",
		"ALTER TABLE items DROP COLUMN note",
		"INSERT INTO items VALUES (3, 'three', 3)",
		"UPDATE items SET qty = qty + 10 WHERE id = 1")
	c.waitSame(t, time.Minute, `SELECT id, name, qty FROM shop.items ORDER BY id`)
	_, want, err := rowsHash("mysql", c.srcDSN,
		`SELECT 0 AS id, 'n0 again' AS note UNION ALL SELECT 1, 'n1' UNION ALL SELECT 2, 'n2' UNION ALL SELECT 3, NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range c.targets() {
		_, got, err := rowsHash(target.driver, target.dsn, `SELECT id, note FROM shop.items ORDER BY id`)
		if err != nil {
			t.Fatalf("%s target: %v", target.name, err)
		}
		if got != want {
			t.Errorf("%s target: the note column does not hold the values from before the drop", target.name)
		}
	}
}

// TestBadMySQLSource starts syncd against MariaDB servers set up wrongly:
// each problem stops it with exit code 1 and its own message.
func TestBadMySQLSource(t *testing.T) {
	tests := []struct {
		name     string
		opts     []testenv.MariaDBOption
		serverID int
		want     string
	}{
		{"binlog_format MIXED", []testenv.MariaDBOption{testenv.WithMariaDBOption("binlog-format", "MIXED")}, 4001, `binlog_format is MIXED, syncd needs ROW`},
		{"binlog_row_image MINIMAL", []testenv.MariaDBOption{testenv.WithMariaDBOption("binlog-row-image", "MINIMAL")}, 4001, `binlog_row_image is MINIMAL, syncd needs FULL`},
		{"server_id of the server", nil, 1, `server_id 1, the same as the server's own @@server_id`},
		{"server_id 0", nil, 0, `syncd.hcl:%d:15: error: Invalid server_id: The server_id must be between 1 and 4294967295, not 0.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testenv.StartMariaDB(t, tt.opts...)
			dsn := m.CreateDB(t, "shop")
			m.Exec(t, "shop", "CREATE TABLE t (id int PRIMARY KEY)")
			d := newDaemon(t, fmt.Sprintf(`
source "mysql" "shop" {
  dsn       = %q
  server_id = %d
}
scope "s" {
  source = "shop"
  table "shop.t" {}
}`, dsn, tt.serverID))
			want := tt.want
			if strings.Contains(want, "%d") { // the diagnostic's line in the config the harness wrote
				want = fmt.Sprintf(want, lineOf(t, d.ConfigPath, "server_id ="))
			}
			code, out := runSyncd(t, "run", "--config", d.ConfigPath)
			if code != 1 || !strings.Contains(out, want) {
				t.Fatalf("syncd run: exit %d, want 1 and output containing %q:\n%s", code, want, out)
			}
		})
	}
}

// TestPurgedBinlog purges the binlog syncd must resume from while it is
// stopped: it refuses to start, naming the missing file.
func TestPurgedBinlog(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", "CREATE TABLE t (id int PRIMARY KEY)")
	d := newDaemon(t, fmt.Sprintf(`
source "mysql" "shop" {
  dsn       = %q
  server_id = 4001
}
scope "s" {
  source   = "shop"
  snapshot = "never"
  table "shop.t" {}
}`, dsn))
	d.Start()
	m.Exec(t, "shop", "INSERT INTO t VALUES (1)")
	waitCount(t, connect(t, d), "s", 1, time.Minute)
	d.Stop()
	m.Exec(t, "shop", "FLUSH BINARY LOGS", "INSERT INTO t VALUES (2)", "FLUSH BINARY LOGS")
	m.PurgeBinaryLogsTo(t, "mariadb-bin.000003")
	code, out := runSyncd(t, "run", "--config", d.ConfigPath)
	if code != 1 || !regexp.MustCompile(`binlog file mariadb-bin\.000001 \(gtid 0-1-\d+\) that source shop must resume from has been purged \(first available: mariadb-bin\.000003\)`).MatchString(out) {
		t.Fatalf("syncd run: exit %d, want 1 and the purged file named:\n%s", code, out)
	}
}

// TestPurgedBinlogResnapshot purges the binlog syncd must resume from
// while it is stopped, with snapshot = "when_needed": syncd copies the
// scope's tables again, so both targets hold the source's rows, those
// changed and deleted in the lost binlog included, and streams on.
func TestPurgedBinlogResnapshot(t *testing.T) {
	c := newCrossEngine(t, "shop", func(c *crossEngine) {
		c.src.Exec(t, "shop", "CREATE TABLE items (id int PRIMARY KEY, name varchar(20))",
			"INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	}, `
scope "items" {
  source   = "shop"
  targets  = ["copy", "pgcopy"]
  snapshot = "when_needed"
  table "shop.items" {}
}`)
	const query = `SELECT id, name FROM shop.items ORDER BY id`
	c.d.Start()
	c.src.Exec(t, "shop", "INSERT INTO items VALUES (4, 'four')")
	c.waitSame(t, time.Minute, query)
	c.d.Stop()

	c.src.Exec(t, "shop", "INSERT INTO items VALUES (5, 'five')", "UPDATE items SET name = 'TWO' WHERE id = 2",
		"DELETE FROM items WHERE id = 1", "FLUSH BINARY LOGS", "FLUSH BINARY LOGS")
	c.src.PurgeBinaryLogsTo(t, "mariadb-bin.000003")
	c.d.Start()
	c.waitSame(t, time.Minute, query)
	c.src.Exec(t, "shop", "INSERT INTO items VALUES (6, 'six')", "DELETE FROM items WHERE id = 3")
	c.waitSame(t, time.Minute, query)
	if logs := c.d.Logs(); !strings.Contains(logs, "taking every snapshot of the source's scopes again") || !strings.Contains(logs, "mariadb-bin.000001") {
		t.Fatalf("syncd did not log why it took the snapshots again:\n%s", logs)
	}
}

// TestXAInBacklog replicates XA transactions: a committed one arrives
// whole at both targets, a rolled-back one not at all.
func TestXAInBacklog(t *testing.T) {
	c := itemsInMySQLBacklog(t, "CREATE TABLE items (id int PRIMARY KEY, name varchar(20))",
		"INSERT INTO items VALUES (0, 'zero')",
		"XA START 'a'", "INSERT INTO items VALUES (1, 'one'), (2, 'two')", "UPDATE items SET name = 'zero, by a' WHERE id = 0", "XA END 'a'", "XA PREPARE 'a'",
		"XA COMMIT 'a'",
		"XA START 'b'", "INSERT INTO items VALUES (3, 'three')", "DELETE FROM items WHERE id = 1", "XA END 'b'", "XA PREPARE 'b'",
		"XA ROLLBACK 'b'",
		"INSERT INTO items VALUES (4, 'four')")
	c.waitSame(t, time.Minute, `SELECT id, name FROM shop.items ORDER BY id`)
	for _, target := range c.targets() {
		if n, _, err := rowsHash(target.driver, target.dsn, `SELECT id FROM shop.items WHERE id IN (1, 2, 4)`); err != nil || n != 3 {
			t.Errorf("%s target: %d of rows 1, 2 and 4 (%v)", target.name, n, err)
		}
	}
}
