package sqlserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// Layer 4 of issue 19 for capture: TestLiveSQLServer runs the source
// against a real SQL Server, in a database of its own on the server that
// SYNCD_TEST_MSSQL_DSN names (testenv.MSSQLDatabase; make
// test-sqlserver). It enables change tracking and snapshot isolation,
// makes a table, writes, polls, and checks the replica against the table;
// it checks that a write tagged WITH CHANGE_TRACKING_CONTEXT as
// apply/sqlserver tags its writes comes back with its origin, that one
// tagged with SkipContext is skipped, and that
// a TRUNCATE lifts the minimum valid version above the checkpoint, as the
// model assumes. No SQL Server can be installed where this package was
// written: this test has NEVER run.
//
// Reviewed against Microsoft's documentation of each function it relies
// on (the links are in doc.go and tsql.go):
//
//   - ALTER DATABASE CURRENT SET CHANGE_TRACKING = ON (CHANGE_RETENTION =
//     1 DAYS, AUTO_CLEANUP = ON) and SET ALLOW_SNAPSHOT_ISOLATION ON:
//     https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-set-options
//     (CURRENT names the connection's database; the DSN names the test's).
//   - ALTER TABLE … ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED =
//     ON): https://learn.microsoft.com/sql/relational-databases/track-changes/enable-and-disable-change-tracking-sql-server
//     The table needs a primary key, which it has.
//   - CHANGE_TRACKING_CURRENT_VERSION(): NULL when change tracking is off
//     for the database; else the version of the last committed change.
//   - CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(…)): the documented
//     check is last_sync_version < min valid version → changes invalid;
//     it rises "when the table was enabled for change tracking", after the
//     cleanup task, and "if the table was truncated". CHANGETABLE's page
//     adds that a truncate resets the table's change tracking "as if
//     change tracking has just been enabled on the table", and that the
//     validation of the last synchronized version "fails if the table has
//     been truncated": the last check below is that, for a checkpoint
//     equal to the version current before the TRUNCATE. If it fails, a
//     TRUNCATE is invisible to that comparison, and the source must
//     detect it otherwise (model_test.go's truncate assumption is then
//     wrong).
//   - CHANGETABLE(CHANGES t, @p1): one row per row changed after @p1,
//     with SYS_CHANGE_VERSION (the row's last change), SYS_CHANGE_OPERATION
//     (nchar(1) I/U/D), SYS_CHANGE_COLUMNS (NULL for inserts, deletes and
//     without column tracking), SYS_CHANGE_CONTEXT (varbinary(128)) and
//     the primary key columns; last_sync_version must be a bigint value
//     or variable (a parameter is one), not an expression.
//   - CHANGE_TRACKING_IS_COLUMN_IN_MASK(column_id, SYS_CHANGE_COLUMNS):
//     bit; column_id as sys.columns has it (COLUMNPROPERTY's ColumnId).
//   - WITH CHANGE_TRACKING_CONTEXT (context) before an UPDATE: the
//     context is varbinary(128), "a constant or a variable, but cannot be
//     NULL" (ContextClause writes a binary constant 0x…; go-mssqldb sends
//     a []byte parameter as varbinary), and CHANGETABLE returns it as
//     SYS_CHANGE_CONTEXT:
//     https://learn.microsoft.com/sql/relational-databases/system-functions/with-change-tracking-context-transact-sql
//   - snapshot isolation for one consistent poll ("Obtaining consistent
//     and correct results" in Work with change tracking).
func TestLiveSQLServer(t *testing.T) {
	dsn := testenv.MSSQLDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := Connect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	db := conn.db
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("ALTER DATABASE CURRENT SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 1 DAYS, AUTO_CLEANUP = ON)")
	exec("ALTER DATABASE CURRENT SET ALLOW_SNAPSHOT_ISOLATION ON")
	name := fmt.Sprintf("syncd_live_%d", time.Now().UnixNano())
	id := capture.TableID{Schema: "dbo", Name: name}
	q := quoteTable(id)
	exec("CREATE TABLE " + q + " (id int PRIMARY KEY, name nvarchar(50) NOT NULL, qty int NULL)")
	t.Cleanup(func() { db.Exec("DROP TABLE " + q) })
	exec("ALTER TABLE " + q + " ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)")
	exec("INSERT INTO " + q + " VALUES (1, N'a', 1), (2, N'b', 2)")

	tables, err := conn.Tables(ctx, []capture.TableSpec{{ID: id, Scopes: []string{"s"}, Columns: []string{"qty"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := conn.Retention(ctx); err != nil || r <= 0 {
		t.Fatalf("Retention = %s, %v; want the database's CHANGE_RETENTION", r, err)
	}
	rep := newReplica(t, true, tables...)
	rep.keep = true
	_, ss := newTestSession(t, Config{Store: &memStore{}, ChunkRows: 1, SkipContext: []byte("maintenance")}, conn, rep, tables...)
	pollAndCompare := func(what string) {
		t.Helper()
		if _, _, err := ss.poll(ctx); err != nil {
			t.Fatalf("%s: poll: %v", what, err)
		}
		if err := ss.save(ctx); err != nil {
			t.Fatal(err)
		}
		if d := rep.diffRows(readAll(ctx, t, conn, tables[0])); d != "" {
			t.Fatalf("%s: %s", what, d)
		}
	}
	pollAndCompare("snapshot")
	exec("INSERT INTO " + q + " VALUES (3, N'c', 3)")
	exec("UPDATE " + q + " SET qty = 10 WHERE id = 1")
	exec("DELETE FROM " + q + " WHERE id = 2")
	pollAndCompare("changes")

	// A write tagged with an origin, as apply/sqlserver tags its writes
	// (ContextClause: a binary constant), is captured marked with that
	// origin; a write tagged with SkipContext is not captured.
	origin := capture.SyncdOrigin("pg", "s", "erp")
	tag, err := ContextClause(origin)
	if err != nil {
		t.Fatal(err)
	}
	n := len(rep.changes)
	exec(tag + "UPDATE " + q + " SET name = N'mine' WHERE id = 3")
	exec("WITH CHANGE_TRACKING_CONTEXT (@ctx)\nUPDATE "+q+" SET name = N'skip' WHERE id = 1", sql.Named("ctx", []byte("maintenance")))
	if _, _, err := ss.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rep.changes) != n+1 || rep.changes[n].After[0] != int32(3) || rep.changes[n].Txn.Origin != origin {
		t.Fatalf("after a tagged and a skipped write, captured %+v; want the update of row 3 with origin %q", rep.changes[n:], origin)
	}

	// TRUNCATE lifts the minimum valid version above the checkpoint.
	exec("TRUNCATE TABLE " + q)
	_, _, err = ss.poll(ctx)
	var lost *LostError
	if !errors.As(err, &lost) {
		t.Fatalf("poll after TRUNCATE: %v, want a LostError", err)
	}
}

// readAll reads t's rows in one poll, keyed by the first key column.
func readAll(ctx context.Context, t *testing.T, tr Tracker, tb *Table) map[capture.TableID]map[any]capture.Row {
	t.Helper()
	p, err := tr.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rows, err := p.Chunk(ctx, tb, nil, 1<<20, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[any]capture.Row{}
	for _, r := range rows {
		out[r[tb.Key[0]]] = r
	}
	return map[capture.TableID]map[any]capture.Row{tb.ID(): out}
}
