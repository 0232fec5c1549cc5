package e2e

// Layer 4 of the SQL Server tests (docs/sqlserver.md), with the syncd
// binary: each test here is skipped unless SYNCD_TEST_MSSQL_DSN names a
// real SQL Server (make test-sqlserver), works in a database of its own
// (testenv.MSSQLDatabase), and has NEVER run where syncd is developed:
// no SQL Server can run there. With SYNCD_TEST_MSSQL_RECORD=DIR they go
// through the recording proxy and save the server's replies for layer 3
// (test/tdsfake/record.go).
//
// Reviewed line by line against Microsoft's documentation; what each
// statement or function relies on:
//   - ALTER DATABASE … SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 2 DAYS,
//     AUTO_CLEANUP = ON) and SET ALLOW_SNAPSHOT_ISOLATION ON, on the
//     database the connection is in (CURRENT):
//     https://learn.microsoft.com/en-us/sql/t-sql/statements/alter-database-transact-sql-set-options
//   - ALTER TABLE … ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON),
//     which needs a primary key on the table:
//     https://learn.microsoft.com/en-us/sql/relational-databases/track-changes/enable-and-disable-change-tracking-sql-server
//   - CHANGETABLE(CHANGES …), which the source polls: "Only one row is
//     returned for each row in the user table that has been changed";
//     "If a primary key value changes, it is considered to be a delete of
//     the old value and an insert of the new value":
//     https://learn.microsoft.com/en-us/sql/relational-databases/system-functions/changetable-transact-sql
//   - CHANGE_TRACKING_CURRENT_VERSION() and CHANGE_TRACKING_MIN_VALID_VERSION(),
//     the poll's bounds:
//     https://learn.microsoft.com/en-us/sql/relational-databases/system-functions/change-tracking-current-version-transact-sql,
//     https://learn.microsoft.com/en-us/sql/relational-databases/system-functions/change-tracking-min-valid-version-transact-sql
//   - WITH CHANGE_TRACKING_CONTEXT, the SQL Server target's origin tag:
//     https://learn.microsoft.com/en-us/sql/relational-databases/system-functions/with-change-tracking-context-transact-sql
//   - SET IDENTITY_INSERT, which the target sets for an IDENTITY key: "only
//     one table in a session can have the IDENTITY_INSERT property set to
//     ON"; "If the value inserted is larger than the current identity value
//     for the table, SQL Server automatically uses the new inserted value as
//     the current identity value"; the user must own the table or have ALTER
//     permission on it:
//     https://learn.microsoft.com/en-us/sql/t-sql/statements/set-identity-insert-transact-sql
//   - IDENT_CURRENT, read to check that: "returns the last identity value
//     generated for a specified table":
//     https://learn.microsoft.com/en-us/sql/t-sql/functions/ident-current-transact-sql
//   - IDENTITY (property): https://learn.microsoft.com/en-us/sql/t-sql/statements/create-table-transact-sql-identity-property
//   - ISJSON and JSON_VALUE, read on the JSON text the target stores (lax
//     mode: a path that is not there is NULL; CONCAT turns NULL into ''):
//     https://learn.microsoft.com/en-us/sql/t-sql/functions/isjson-transact-sql,
//     https://learn.microsoft.com/en-us/sql/t-sql/functions/json-value-transact-sql,
//     https://learn.microsoft.com/en-us/sql/t-sql/functions/concat-transact-sql
//   - The types and literals of the matrix: the list at the top of
//     mssqlmatrix_test.go.
//
// Values are read back through go-mssqldb (msRows, whose formatting is
// checked over the TDS fake by TestMSRowsOverTDS), not through CONVERT's
// styles.

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// msTrackedDB returns the DSN of a new database on the real SQL Server
// with change tracking and snapshot isolation on, and a pool on it; it
// skips the test when SYNCD_TEST_MSSQL_DSN is unset.
func msTrackedDB(t *testing.T) (string, *sql.DB) {
	t.Helper()
	dsn := testenv.MSSQLDatabase(t)
	db := testenv.OpenDB(t, "sqlserver", dsn)
	msExec(t, db,
		"ALTER DATABASE CURRENT SET ALLOW_SNAPSHOT_ISOLATION ON",
		"ALTER DATABASE CURRENT SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 2 DAYS, AUTO_CLEANUP = ON)")
	return dsn, db
}

// msExec runs statements on a SQL Server, failing the test on the first error.
func msExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// msWait waits until query at the SQL Server reads want (msRows).
func msWait(t *testing.T, db *sql.DB, what, query string, want ...string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		got, err := msRows(db, query)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s: %s reads %q, want %q", what, query, got, want)
		}
		return nil
	})
}

// TestRealServerPostgresToSQLServer (layer 4, never run): a real
// PostgreSQL source replicated by the syncd binary through JetStream into
// a real SQL Server target. Table items is created by create_tables;
// table ledger exists at SQL Server with an IDENTITY key, which the target
// writes with SET IDENTITY_INSERT. The initial copy, then an insert, an
// update (to and from NULL), a delete and a key change arrive; the
// identity's current value follows the inserted keys; and the scope's
// scope_info row holds a position and the rows applied.
func TestRealServerPostgresToSQLServer(t *testing.T) {
	msDSN, ms := msTrackedDB(t)
	msExec(t, ms, "CREATE TABLE dbo.ledger (id int IDENTITY(1,1) PRIMARY KEY, note nvarchar(100))")
	pg := testenv.StartPostgres(t)
	src := pg.CreateDB(t, "app")
	pg.Exec(t, "app",
		`CREATE TABLE items (id integer PRIMARY KEY, name text, qty bigint, price numeric(10,2), seen timestamptz(6), data bytea)`,
		`CREATE TABLE ledger (id integer PRIMARY KEY, note text)`,
		`INSERT INTO items VALUES (1, 'один', 1099511627776, 1.50, '2024-01-02 03:04:05.123456+00', '\xdead'), (2, NULL, NULL, NULL, NULL, NULL)`,
		`INSERT INTO ledger VALUES (1, 'first'), (5, 'fifth')`)
	d := newDaemon(t, pgToMSItemsConfig(src, msDSN))
	d.Start()
	const items = "SELECT id, name, qty, price, seen, data FROM dbo.items ORDER BY id"
	const ledger = "SELECT id, note FROM dbo.ledger ORDER BY id"
	msWait(t, ms, "the copy", items,
		"1|один|1099511627776|1.50|2024-01-02 03:04:05.123456 +00:00|DEAD",
		"2|∅|∅|∅|∅|∅")
	msWait(t, ms, "the copy", ledger, "1|first", "5|fifth")

	pg.Exec(t, "app",
		`INSERT INTO items VALUES (3, 'three', 3, 3.00, '1970-01-01 00:00:00+00', '\x')`,
		`UPDATE items SET name = 'two', qty = -2, price = 0.10 WHERE id = 2`,
		`UPDATE items SET data = NULL, seen = NULL WHERE id = 1`,
		`DELETE FROM items WHERE id = 1`,
		`UPDATE items SET id = 30 WHERE id = 3`,
		`INSERT INTO ledger VALUES (9, 'ninth')`,
		`UPDATE ledger SET note = NULL WHERE id = 5`,
		`DELETE FROM ledger WHERE id = 1`)
	msWait(t, ms, "the changes", items,
		"2|two|-2|0.10|∅|∅",
		"30|three|3|3.00|1970-01-01 00:00:00 +00:00|")
	msWait(t, ms, "the changes", ledger, "5|∅", "9|ninth")
	msWait(t, ms, "the identity", "SELECT IDENT_CURRENT('dbo.ledger')", "9")

	msWait(t, ms, "the checkpoint",
		`SELECT scope, source, CASE WHEN last_position <> '' THEN 'position' END, CASE WHEN rows_applied > 0 THEN 'rows' END
FROM dbo.syncd_scope_info`, "items|app|position|rows")
}

// TestRealServerTypeMatrixFromSQLServer (layer 4, never run): the type
// matrix of mssqlmatrix_test.go on a real SQL Server, replicated by the
// syncd binary into real PostgreSQL and MariaDB: rows 1-3 by the initial
// copy, then the same values again as rows 11-13 through change tracking;
// each column's type and values there as TestSQLServerTypeMatrixOverTDS
// expects them from the fake.
func TestRealServerTypeMatrixFromSQLServer(t *testing.T) {
	msDSN, ms := msTrackedDB(t)
	defs := []string{"id int PRIMARY KEY"}
	var names []string
	for _, c := range msMatrix {
		defs = append(defs, c.name+" "+c.def)
		if c.name != "rv" { // the server sets rowversion
			names = append(names, c.name)
		}
	}
	insert := func(base int) string {
		var rows []string
		for r := range 3 {
			vals := []string{fmt.Sprint(base + r + 1)}
			for _, c := range msMatrix {
				if c.name == "rv" {
					continue
				}
				if v := c.lits[r]; v != "" {
					vals = append(vals, v)
				} else {
					vals = append(vals, "NULL")
				}
			}
			rows = append(rows, "("+strings.Join(vals, ", ")+")")
		}
		return fmt.Sprintf("INSERT INTO dbo.matrix (id, %s) VALUES %s", strings.Join(names, ", "), strings.Join(rows, ", "))
	}
	msExec(t, ms,
		"CREATE TABLE dbo.matrix ("+strings.Join(defs, ", ")+")",
		"ALTER TABLE dbo.matrix ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)",
		insert(0))
	pgDSN := testenv.StartPostgres(t).CreateDB(t, "matrix")
	myDSN := testenv.StartMariaDB(t).CreateDB(t, "matrix")
	d := newDaemon(t, msMatrixConfig(msDSN, pgDSN, myDSN, "matrix"))
	d.Start()
	pgDB, myDB := testenv.OpenDB(t, "pgx", pgDSN), testenv.OpenDB(t, "mysql", myDSN)
	checkMSMatrix(t, msMatrix, pgDB, myDB, 1, 2, 3)
	msExec(t, ms, insert(10))
	checkMSMatrix(t, msMatrix, pgDB, myDB, 1, 2, 3, 11, 12, 13)
}

// TestRealServerUnrepresentableFromSQLServer (layer 4, never run): on a
// real SQL Server, tables with the column types no PostgreSQL or MariaDB
// column holds (datetime2(7), time(7), datetimeoffset(7), sql_variant,
// geography, hierarchyid): each scope stops at start with the type's
// error and its fix, as TestSQLServerUnrepresentableOverTDS shows with
// the fake.
func TestRealServerUnrepresentableFromSQLServer(t *testing.T) {
	msDSN, ms := msTrackedDB(t)
	for i, u := range msUnrepresentable {
		msExec(t, ms,
			fmt.Sprintf("CREATE TABLE dbo.odd%d (id int PRIMARY KEY, v %s)", i, u.def),
			fmt.Sprintf("ALTER TABLE dbo.odd%d ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)", i))
	}
	pgDSN := testenv.StartPostgres(t).CreateDB(t, "odd")
	myDSN := testenv.StartMariaDB(t).CreateDB(t, "odd")
	d := newDaemon(t, msUnrepresentableConfig(msDSN, pgDSN, myDSN, "odd"))
	d.StartAlive()
	checkMSUnrepresentable(t, d)
}

// TestRealServerUnrepresentableToSQLServer (layer 4, never run):
// PostgreSQL and MariaDB columns no SQL Server column holds stop their
// scopes at start with the type's error and its fix, before any table
// is created at the real SQL Server (decimal and numeric: precision 1 to
// 38,
// https://learn.microsoft.com/en-us/sql/t-sql/data-types/decimal-and-numeric-transact-sql).
func TestRealServerUnrepresentableToSQLServer(t *testing.T) {
	msDSN, ms := msTrackedDB(t)
	pgDSN, myDSN := startToMSUnrepresentable(t, testenv.StartPostgres(t), testenv.StartMariaDB(t))
	d := newDaemon(t, toMSUnrepresentableConfig(pgDSN, myDSN, msDSN))
	d.StartAlive()
	checkToMSUnrepresentable(t, d)
	msWait(t, ms, "no table created", "SELECT COUNT(*) FROM sys.tables WHERE name LIKE 'bad%'", "0")
}

// pgToMSItemsConfig replicates tables items and ledger of PostgreSQL
// source app (src) into dbo at SQL Server target mssql (dsn), which
// creates the tables missing there.
func pgToMSItemsConfig(src, dsn string) string {
	return fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
target "sqlserver" "mssql" {
  dsn           = %q
  create_tables = true
}
scope "items" {
  source  = "app"
  targets = ["mssql"]
  table "public.items"  { target = "dbo.items" }
  table "public.ledger" { target = "dbo.ledger" }
}
`, src, dsn)
}
