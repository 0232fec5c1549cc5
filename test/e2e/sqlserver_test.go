package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/tdsfake"
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

// TestSQLServerSourceOverTDS runs the syncd binary with a SQL Server
// source on the TDS wire FAKE (test/tdsfake, layer 3: not SQL Server)
// and a real PostgreSQL target: the daemon passes the start-up checks,
// copies the table (types, NULLs) through go-mssqldb, NATS and the
// apply worker into the target, keeps polling, and is ready. The fake
// answers by statement prefix; the exact T-SQL is pinned by
// capture/sqlserver's own layer 3 and golden tests.
func TestSQLServerSourceOverTDS(t *testing.T) {
	f := tdsfake.New(t, itemsSourceScript())
	pg := testenv.StartPostgres(t)
	dst := pg.CreateDB(t, "replica")
	d := newDaemon(t, sqlserverToPostgres(f.DSN(), dst, "initial"))
	d.Start()
	db := testenv.OpenDB(t, "pgx", dst)
	want := []string{"1|один|1099511627776|dead", "2|∅|∅|∅"}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		got, err := testenv.Rows(db, `SELECT id, name, qty, encode(data, 'hex') FROM dbo.items ORDER BY id`)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("replica holds %q, want %q", got, want)
		}
		return nil
	})
	// It goes on polling: each poll reads the current and minimum valid
	// versions and the changes since 7.
	n := len(f.Statements())
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		polls := 0
		for _, s := range f.Statements()[n:] {
			if strings.HasPrefix(s, "SELECT ct.SYS_CHANGE_VERSION") {
				polls++
			}
		}
		if polls < 2 {
			return fmt.Errorf("%d polls of changes since the copy, want 2", polls)
		}
		return nil
	})
	var doc struct {
		Sources []struct {
			Status struct {
				Connected bool  `json:"connected"`
				Version   int64 `json:"version"`
			}
		}
	}
	if err := json.Unmarshal([]byte(get(t, d.AdminURL+"/scopes")), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Sources) != 1 || !doc.Sources[0].Status.Connected || doc.Sources[0].Status.Version != 7 {
		t.Errorf("/scopes sources = %+v, want connected at version 7", doc.Sources)
	}
	metrics := get(t, d.AdminURL+"/metrics")
	for _, want := range []string{`syncd_source_change_tracking_version{source="erp"} 7`, `syncd_source_confirmed_position{source="erp"} 7`, `syncd_source_change_retention_at_risk{source="erp"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

// sqlserverToPostgres is the config of a scope "items" of table dbo.items
// from a SQL Server source "erp" at dsn, polled every 50ms, to a
// PostgreSQL target "replica" at dst that creates its tables.
func sqlserverToPostgres(dsn, dst, snapshot string) string {
	return fmt.Sprintf(`
source "sqlserver" "erp" {
  dsn           = %q
  poll_interval = "50ms"
}
target "postgres" "replica" {
  dsn           = %q
  create_tables = true
}
scope "items" {
  source   = "erp"
  targets  = ["replica"]
  snapshot = %q
  table "dbo.items" {}
}
`, dsn, dst, snapshot)
}

// itemsSourceScript answers a SQL Server source of one table, dbo.items
// (id int, name nvarchar(50), qty bigint, data varbinary(16)), that
// passes the start-up checks, is at version 7 with nothing to clean up
// (minimum valid version 0) and no changes, and copies as two rows.
func itemsSourceScript() map[string]tdsfake.Result {
	i4, i8, text, bin := tdsfake.Int4, tdsfake.Int8, tdsfake.NVarchar, tdsfake.Varbinary
	ct := tdsfake.Result{Cols: []tdsfake.Type{i8, text, bin, i4, i4, i4, i4, i4, i4, text, i8, bin}} // no changes
	return map[string]tdsfake.Result{
		"SELECT DB_NAME(), USER_NAME(),…":               {Cols: []tdsfake.Type{text, text, i4, i4, text, i4}, Rows: [][]any{{"erp", "syncd", int64(1), int64(2), "DAYS", int64(1)}}},
		"SELECT CASE WHEN OBJECT_ID(@p1, 'U') IS NULL…": {Cols: []tdsfake.Type{i4, i4, i4, i4}, Rows: [][]any{{int64(1), int64(1), int64(1), int64(1)}}},
		"SELECT c.name, c.column_id,…": {Cols: []tdsfake.Type{text, i4, text, i4, i4, i4, i4}, Rows: [][]any{
			{"id", int64(1), "int", int64(4), int64(10), int64(0), int64(1)},
			{"name", int64(2), "nvarchar", int64(100), int64(0), int64(0), int64(0)},
			{"qty", int64(3), "bigint", int64(8), int64(19), int64(0), int64(0)},
			{"data", int64(4), "varbinary", int64(16), int64(0), int64(0), int64(0)},
		}},
		"SELECT CHANGE_TRACKING_CURRENT_VERSION()…":  {Cols: []tdsfake.Type{i8}, Rows: [][]any{{int64(7)}}},
		"SELECT CHANGE_TRACKING_MIN_VALID_VERSION(…": {Cols: []tdsfake.Type{i8}, Rows: [][]any{{int64(0)}}},
		"SELECT ct.SYS_CHANGE_VERSION,…":             ct,
		"SELECT TOP (@p1) [id], [name], [qty], [data] FROM [dbo].[items]…": {Cols: []tdsfake.Type{i4, text, i8, bin}, Rows: [][]any{
			{int64(1), "один", int64(1) << 40, []byte{0xde, 0xad}},
			{int64(2), nil, nil, nil},
		}},
	}
}

// TestSQLServerChecksStopStart: start-up checks that fail (here, on the
// TDS wire fake: change tracking off for the table, snapshot isolation
// not allowed, no VIEW CHANGE TRACKING) stop `syncd run` with every
// problem and the statement that fixes it.
func TestSQLServerChecksStopStart(t *testing.T) {
	i4, text := tdsfake.Int4, tdsfake.NVarchar
	f := tdsfake.New(t, map[string]tdsfake.Result{
		"SELECT DB_NAME(), USER_NAME(),…":               {Cols: []tdsfake.Type{text, text, i4, i4, text, i4}, Rows: [][]any{{"erp", "syncd", int64(1), int64(2), "DAYS", int64(0)}}},
		"SELECT CASE WHEN OBJECT_ID(@p1, 'U') IS NULL…": {Cols: []tdsfake.Type{i4, i4, i4, i4}, Rows: [][]any{{int64(1), int64(0), int64(1), int64(0)}}},
		"SELECT c.name, c.column_id,…": {Cols: []tdsfake.Type{text, i4, text, i4, i4, i4, i4}, Rows: [][]any{
			{"id", int64(1), "int", int64(4), int64(10), int64(0), int64(1)},
		}},
	})
	d := newDaemon(t, fmt.Sprintf(`
source "sqlserver" "erp" { dsn = %q }
target "sqlserver" "dwh" { dsn = %q }
scope "items" {
  source  = "erp"
  targets = ["dwh"]
  table "dbo.items" {}
}
`, f.DSN(), f.DSN()))
	code, out := runSyncd(t, "run", "--config", d.ConfigPath)
	for _, want := range []string{
		"run ALTER DATABASE [erp] SET ALLOW_SNAPSHOT_ISOLATION ON",
		"change tracking is off for table dbo.items: run ALTER TABLE [dbo].[items] ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)",
		"run GRANT VIEW CHANGE TRACKING ON [dbo].[items] TO [syncd]",
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("syncd run exited %d:\n%s\nwant exit 1 and %q", code, out, want)
		}
	}
}

// TestPostgresToSQLServerOverTDS: a real PostgreSQL source, through NATS
// JetStream and the syncd binary's SQL Server apply worker, into the TDS
// wire FAKE's Store (test/tdsfake/store.go, layer 3): the initial copy
// and then inserts, an update and a delete arrive as the rows the fake
// holds, each row change tagged WITH CHANGE_TRACKING_CONTEXT holding the
// worker's origin, with the scope's checkpoint beside them. The Store
// applies syncd's statement shapes by parameter number: this proves what
// the daemon sends over TDS and that go-mssqldb reads the answers back,
// not that SQL Server would accept the T-SQL (layer 4, never run).
func TestPostgresToSQLServerOverTDS(t *testing.T) {
	f := tdsfake.New(t, nil)
	st := tdsfake.NewStore()
	f.Handler = st
	st.AddTable("[dbo].[items]", []string{"id"},
		tdsfake.Column{Name: "id", Type: "int"}, tdsfake.Column{Name: "name", Type: "nvarchar"},
		tdsfake.Column{Name: "qty", Type: "bigint"}, tdsfake.Column{Name: "ok", Type: "bit"},
		tdsfake.Column{Name: "data", Type: "varbinary"})
	pg := testenv.StartPostgres(t)
	src := pg.CreateDB(t, "app")
	pg.Exec(t, "app", `CREATE TABLE items (id integer PRIMARY KEY, name text, qty bigint, ok boolean, data bytea);
INSERT INTO items VALUES (1, 'один', 1099511627776, true, '\xdead'), (2, NULL, NULL, NULL, NULL)`)
	d := newDaemon(t, fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
target "sqlserver" "mssql" { dsn = %q }
scope "items" {
  source  = "app"
  targets = ["mssql"]
  table "public.items" { target = "dbo.items" }
}
`, src, f.DSN()))
	d.Start()
	wait := func(what string, want []string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
			if got := st.Rows("[dbo].[items]"); !slices.Equal(got, want) {
				return fmt.Errorf("%s: the fake holds %q, want %q", what, got, want)
			}
			return nil
		})
	}
	// A NULL bytea goes as a typed NULL, a VARBINARY parameter (go-mssqldb
	// sends an untyped one as NVARCHAR(1): SQL Server's error 257).
	wait("the copy", []string{"id=1 name=один qty=1099511627776 ok=true data=[222 173]", "id=2 name=NULL qty=NULL ok=NULL data=NULL:varbinary"})
	pg.Exec(t, "app", `INSERT INTO items VALUES (3, 'three', 3, false, '');
UPDATE items SET name = 'two', qty = 2 WHERE id = 2;
DELETE FROM items WHERE id = 1`)
	wait("the changes", []string{"id=2 name=two qty=2 ok=NULL data=NULL:varbinary", "id=3 name=three qty=3 ok=false data=[]"})

	origin := "syncd:app:items:mssql"
	changes := st.Contexts("[dbo].[items]")
	if len(changes) < 5 { // two copied, one inserted, one updated, one deleted
		t.Errorf("row changes %q, want at least 5", changes)
	}
	for _, c := range changes {
		if !strings.HasSuffix(c, " "+origin) {
			t.Errorf("row change %q is not tagged with the origin %s", c, origin)
		}
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		si := st.ScopeInfo("items", "app")
		if len(si) < 7 || si[5] == "" || si[5] == nil {
			return fmt.Errorf("scope_info row %v, want one with a position", si)
		}
		return nil
	})
}

// lostChanges is a tdsfake.Handler that, once lost is set, answers the
// SQL Server source as a database whose change tracking cleanup ran
// past the checkpoint (7) for dbo.items alone: current version 10,
// dbo.items's minimum valid version 9 (dbo.notes's stays 0), and
// dbo.items now holding rows 1 and 3.
type lostChanges struct{ lost atomic.Bool }

func (h *lostChanges) Statement(text string, params []any) (tdsfake.Result, bool) {
	if !h.lost.Load() {
		return tdsfake.Result{}, false
	}
	i4, i8, text4, bin := tdsfake.Int4, tdsfake.Int8, tdsfake.NVarchar, tdsfake.Varbinary
	switch {
	case strings.HasPrefix(text, "SELECT CHANGE_TRACKING_CURRENT_VERSION()"):
		return tdsfake.Result{Cols: []tdsfake.Type{i8}, Rows: [][]any{{int64(10)}}}, true
	case strings.HasPrefix(text, "SELECT CHANGE_TRACKING_MIN_VALID_VERSION(") && len(params) == 1 && params[0] == "[dbo].[items]":
		return tdsfake.Result{Cols: []tdsfake.Type{i8}, Rows: [][]any{{int64(9)}}}, true
	case strings.HasPrefix(text, "SELECT TOP (@p1) [id], [name], [qty], [data] FROM [dbo].[items]"):
		return tdsfake.Result{Cols: []tdsfake.Type{i4, text4, i8, bin}, Rows: [][]any{
			{int64(1), "один", int64(1) << 40, []byte{0xde, 0xad}},
			{int64(3), "three", int64(3), nil},
		}}, true
	}
	return tdsfake.Result{}, false
}

func (h *lostChanges) Transaction(string) {}

// notesCopy is the fake's statement that reads dbo.notes for a copy.
const notesCopy = "SELECT TOP (@p1) [id], [name], [qty], [data] FROM [dbo].[notes]"

// TestSQLServerLostChangesOverTDS: the changes of dbo.items since a SQL
// Server source's checkpoint are no longer tracked (the TDS wire FAKE,
// layer 3, raises its minimum valid version past it, as change
// tracking's cleanup or a TRUNCATE does), while those of dbo.notes, in
// the same scope, are. With snapshot = "initial" the syncd binary's
// source stops and /readyz reports source_failed naming the table and
// both versions. With "when_needed" it copies dbo.items again, alone,
// into the real PostgreSQL target: row 2, deleted in the lost window,
// goes and row 3 comes, in one target transaction that deletes the
// table's rows rather than TRUNCATE it (its file node stays), dbo.notes
// is neither read again nor re-sent, the scope_info row records the copy
// of dbo.items done, and the daemon stays ready at the new version.
func TestSQLServerLostChangesOverTDS(t *testing.T) {
	pg := testenv.StartPostgres(t)
	for _, snapshot := range []string{"initial", "when_needed"} {
		t.Run(snapshot, func(t *testing.T) {
			h := &lostChanges{}
			script := itemsSourceScript()
			script[notesCopy+"…"] = tdsfake.Result{Cols: []tdsfake.Type{tdsfake.Int4, tdsfake.NVarchar, tdsfake.Int8, tdsfake.Varbinary}, Rows: [][]any{
				{int64(5), "note", int64(5), nil},
			}}
			f := tdsfake.New(t, script)
			f.Handler = h
			dst := pg.CreateDB(t, "lost_"+snapshot)
			cfg := strings.Replace(sqlserverToPostgres(f.DSN(), dst, snapshot), `table "dbo.items" {}`, `table "dbo.items" {}
  table "dbo.notes" {}`, 1)
			d := newDaemon(t, cfg)
			d.Start()
			db := testenv.OpenDB(t, "pgx", dst)
			holds := func(table string, want ...string) func() error {
				return func() error {
					got, err := testenv.Rows(db, `SELECT id, name FROM dbo.`+table+` ORDER BY id`)
					if err != nil {
						return err
					}
					if !slices.Equal(got, want) {
						return fmt.Errorf("replica's %s holds %q, want %q", table, got, want)
					}
					return nil
				}
			}
			// The scope_info row: rows applied, and the backfill state.
			type info struct {
				rows         int64
				state, table string
				copied       int64
			}
			scopeInfo := func() (si info, err error) {
				err = db.QueryRow(`SELECT rows_applied, backfill, backfill_table, backfill_rows FROM syncd_scope_info WHERE scope = 'items' AND source = 'erp'`).Scan(&si.rows, &si.state, &si.table, &si.copied)
				return si, err
			}
			testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, holds("items", "1|один", "2|∅"))
			testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, holds("notes", "5|note"))
			var before info
			testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (err error) {
				// Both copies applied, the last one's end recorded.
				if before, err = scopeInfo(); err == nil && (before.state != "done" || before.rows != 5) {
					err = fmt.Errorf("scope_info %+v after the first copies, want rows_applied 5 (two truncates, three rows) and backfill done", before)
				}
				return err
			})
			var node int64
			if err := db.QueryRow(`SELECT pg_relation_filenode('dbo.items')`).Scan(&node); err != nil {
				t.Fatal(err)
			}
			n := len(f.Statements())
			h.lost.Store(true)
			if snapshot == "initial" {
				testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
					code, body := getStatus(t, d.AdminURL+"/readyz")
					for _, want := range []string{`"source/erp"`, `"source_failed"`, "dbo.items since version 7", "minimum valid version is 9"} {
						if code == 200 || !strings.Contains(body, want) {
							return fmt.Errorf("/readyz %d %s: want %s", code, body, want)
						}
					}
					return nil
				})
				return
			}
			testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, holds("items", "1|один", "3|three"))
			testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
				code, body := getStatus(t, d.AdminURL+"/readyz")
				if code != 200 {
					return fmt.Errorf("/readyz %d %s after copying again", code, body)
				}
				if m := get(t, d.AdminURL+"/metrics"); !strings.Contains(m, `syncd_source_confirmed_position{source="erp"} 10`) {
					return fmt.Errorf("/metrics has no confirmed position 10")
				}
				// dbo.items's copy alone: its delete and two rows.
				si, err := scopeInfo()
				if err == nil && (si != info{rows: before.rows + 3, state: "done", table: "dbo.items", copied: 2}) {
					err = fmt.Errorf("scope_info %+v, want rows_applied %d (the copy of dbo.items: a delete of its rows and two rows), backfill done of dbo.items, 2 rows", si, before.rows+3)
				}
				return err
			})
			if err := holds("notes", "5|note")(); err != nil {
				t.Error(err)
			}
			var after int64
			if err := db.QueryRow(`SELECT pg_relation_filenode('dbo.items')`).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != node {
				t.Errorf("dbo.items's file node went from %d to %d: the target table was truncated", node, after)
			}
			for _, s := range f.Statements()[n:] {
				if strings.HasPrefix(s, notesCopy) {
					t.Errorf("dbo.notes was read again for a copy: %s", s)
				}
			}
		})
	}
}

// TestTwoWayPostgresSQLServerOverTDS: a two-way pair between a real
// PostgreSQL and a SQL Server on the TDS wire FAKE (layer 3: the
// target's statements applied by the fake's Store, by shape; the SQL
// Server source answered by itemsSourceScript, with no changes). The
// syncd binary's SQL Server target probes each change of the two-way
// scope (apply/sqlserver probe.go) before it applies it: PostgreSQL's
// insert, update and delete reach the Store, and the daemon is ready.
// What SQL Server makes of the probe's T-SQL is left to layer 4.
func TestTwoWayPostgresSQLServerOverTDS(t *testing.T) {
	f := tdsfake.New(t, itemsSourceScript())
	st := tdsfake.NewStore()
	f.Handler = st
	st.AddTable("[dbo].[items]", []string{"id"},
		tdsfake.Column{Name: "id", Type: "int"}, tdsfake.Column{Name: "name", Type: "nvarchar"},
		tdsfake.Column{Name: "qty", Type: "bigint"}, tdsfake.Column{Name: "data", Type: "varbinary"})
	pg := testenv.StartPostgres(t)
	src := pg.CreateDB(t, "app")
	pg.Exec(t, "app", `CREATE TABLE items (id integer PRIMARY KEY, name text, qty bigint, data bytea);
ALTER TABLE items REPLICA IDENTITY FULL`)
	d := newDaemon(t, fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
source "sqlserver" "erp" {
  dsn           = %q
  poll_interval = "50ms"
}
target "sqlserver" "mssql" {
  dsn     = %q
  same_as = "erp"
}
target "postgres" "pg" {
  dsn     = %q
  same_as = "app"
}
scope "out" {
  source    = "app"
  targets   = ["mssql"]
  snapshot  = "never"
  conflicts = "source_wins"
  table "public.items" { target = "dbo.items" }
}
scope "back" {
  source    = "erp"
  targets   = ["pg"]
  snapshot  = "never"
  conflicts = "target_wins"
  table "dbo.items" { target = "public.items" }
}
`, src, f.DSN(), f.DSN(), src))
	if code, out := runSyncd(t, "validate", "--config", d.ConfigPath); code != 0 {
		t.Fatalf("syncd validate exited %d:\n%s", code, out)
	}
	d.Start()
	pg.Exec(t, "app", `INSERT INTO items VALUES (1, 'one', 1, '\xdead'), (2, 'two', 2, NULL)`)
	pg.Exec(t, "app", `UPDATE items SET name = 'uno', qty = 11 WHERE id = 1; DELETE FROM items WHERE id = 2`)
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		want := []string{"id=1 name=uno qty=11 data=[222 173]"}
		if got := st.Rows("[dbo].[items]"); !slices.Equal(got, want) {
			return fmt.Errorf("the fake holds %q, want %q", got, want)
		}
		if code, body := getStatus(t, d.AdminURL+"/readyz"); code != 200 {
			return fmt.Errorf("/readyz %d %s", code, body)
		}
		return nil
	})
	probes := 0
	for _, s := range f.Statements() {
		if strings.HasPrefix(s, "SELECT ") && strings.Contains(s, " FOR JSON PATH, ") {
			probes++
		}
	}
	if probes == 0 {
		t.Errorf("no probe reached the fake:\n%s", tdsfake.StatementsText(f.Statements()))
	}
}

// TestRealServerSQLServerToPostgresAndMariaDB is layer 4 (docs/sqlserver.md):
// skipped unless SYNCD_TEST_MSSQL_DSN names a real SQL Server (make
// test-sqlserver); it has NEVER run. The syncd binary copies a change
// tracked table into real PostgreSQL and MariaDB, streams an insert,
// an update and a delete, and after a TRUNCATE TABLE (which resets the
// table's change tracking) stops the source with /readyz source_failed
// naming the table. The statements it relies on, as Microsoft documents
// them:
//   - ALTER DATABASE CURRENT SET CHANGE_TRACKING = ON (CHANGE_RETENTION …,
//     AUTO_CLEANUP = ON) and SET ALLOW_SNAPSHOT_ISOLATION ON
//     (https://learn.microsoft.com/en-us/sql/t-sql/statements/alter-database-transact-sql-set-options);
//   - ALTER TABLE … ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)
//     (https://learn.microsoft.com/en-us/sql/relational-databases/track-changes/enable-and-disable-change-tracking-sql-server);
//   - TRUNCATE TABLE: CHANGETABLE's validation "fails if the table has been
//     truncated", the table's minimum valid version moving past every
//     earlier version
//     (https://learn.microsoft.com/en-us/sql/relational-databases/system-functions/changetable-transact-sql,
//     https://learn.microsoft.com/en-us/sql/relational-databases/system-functions/change-tracking-min-valid-version-transact-sql).
func TestRealServerSQLServerToPostgresAndMariaDB(t *testing.T) {
	dsn := testenv.MSSQLDatabase(t)
	src := testenv.OpenDB(t, "sqlserver", dsn)
	for _, s := range []string{
		"ALTER DATABASE CURRENT SET ALLOW_SNAPSHOT_ISOLATION ON",
		"ALTER DATABASE CURRENT SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 2 DAYS, AUTO_CLEANUP = ON)",
		"CREATE TABLE dbo.items (id int PRIMARY KEY, name nvarchar(50), qty bigint, price decimal(10,2))",
		"ALTER TABLE dbo.items ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)",
		"INSERT INTO dbo.items VALUES (1, N'один', 1099511627776, 1.50), (2, NULL, NULL, NULL)",
	} {
		if _, err := src.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	pg := testenv.StartPostgres(t)
	pgDSN := pg.CreateDB(t, "replica")
	maria := testenv.StartMariaDB(t)
	mariaDSN := maria.CreateDB(t, "replica")
	d := newDaemon(t, msToPGAndMariaDB(dsn, pgDSN, mariaDSN)+`
scope "to_pg" {
  source  = "erp"
  targets = ["pg"]
  table "dbo.items" {}
}
scope "to_maria" {
  source  = "erp"
  targets = ["maria"]
  table "dbo.items" { target = "replica.items" }
}
`)
	d.Start()
	pgDB, mariaDB := testenv.OpenDB(t, "pgx", pgDSN), testenv.OpenDB(t, "mysql", mariaDSN)
	wait := func(what string, want ...string) {
		t.Helper()
		testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
			for _, q := range []struct {
				db    *sql.DB
				query string
			}{
				{pgDB, `SELECT id, name, qty, price FROM dbo.items ORDER BY id`},
				{mariaDB, `SELECT id, name, qty, price FROM items ORDER BY id`},
			} {
				got, err := testenv.Rows(q.db, q.query)
				if err != nil {
					return err
				}
				if !slices.Equal(got, want) {
					return fmt.Errorf("%s: %q holds %q, want %q", what, q.query, got, want)
				}
			}
			return nil
		})
	}
	wait("the copy", "1|один|1099511627776|1.50", "2|∅|∅|∅")
	for _, s := range []string{
		"INSERT INTO dbo.items VALUES (3, N'three', 3, 3.00)",
		"UPDATE dbo.items SET name = N'two', qty = 2 WHERE id = 2",
		"DELETE FROM dbo.items WHERE id = 1",
	} {
		if _, err := src.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	wait("the changes", "2|two|2|∅", "3|three|3|3.00")
	if _, err := src.Exec("TRUNCATE TABLE dbo.items; INSERT INTO dbo.items VALUES (4, N'four', 4, 4.00)"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
		code, body := getStatus(t, d.AdminURL+"/readyz")
		for _, want := range []string{`"source/erp"`, `"source_failed"`, "dbo.items", "no longer tracked"} {
			if code == 200 || !strings.Contains(body, want) {
				return fmt.Errorf("/readyz %d %s: want %s", code, body, want)
			}
		}
		return nil
	})
}
