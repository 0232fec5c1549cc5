package sqlserver

// Layer 4 of issue 19's tests: the shared target tests (apply/applytest)
// against a real SQL Server. They run only when SYNCD_TEST_MSSQL_DSN is
// set, to a go-mssqldb URL DSN of a login that may CREATE DATABASE
// ("sqlserver://sa:pass@localhost:1433"); each test creates a database of
// its own and drops it after. Without it they are skipped, saying so:
// no SQL Server can be installed where syncd's own tests run.
//
// STATUS: these tests have NEVER run. Until they pass against a real
// server, apply/sqlserver is verified by its golden statement tests, and
// its connect and error classification over a TDS wire fake, only.
//
// What they rely on, with Microsoft's documentation of each. Reviewed
// against these pages (not against a server): the statements match the
// documented syntax, and the behaviour each test asserts is the
// documented one, with these points the pages leave to a real run:
// error 2628 (truncation, with table and column) replaces 8152 only from
// SQL Server 2019 on (compatibility level 150, or trace flag 460), so
// both are classified; INTERSECT's "two NULL values are considered
// equal" is what the delete of a keyless row relies on; only one table
// per session may have IDENTITY_INSERT ON, which TestRealServerIdentityKey
// checks by writing two identity tables in one transaction.
//
//   - CREATE DATABASE / DROP DATABASE, ALTER DATABASE … SET SINGLE_USER
//     WITH ROLLBACK IMMEDIATE to drop one still in use:
//     https://learn.microsoft.com/en-us/sql/t-sql/statements/create-database-transact-sql
//     https://learn.microsoft.com/en-us/sql/t-sql/statements/drop-database-transact-sql
//     https://learn.microsoft.com/en-us/sql/t-sql/statements/alter-database-transact-sql-set-options
//   - the upsert: UPDATE … FROM with a VALUES derived table, INSERT …
//     SELECT … WHERE NOT EXISTS, table hints UPDLOCK and SERIALIZABLE:
//     https://learn.microsoft.com/en-us/sql/t-sql/queries/update-transact-sql
//     https://learn.microsoft.com/en-us/sql/t-sql/queries/table-value-constructor-transact-sql
//     https://learn.microsoft.com/en-us/sql/t-sql/queries/hints-transact-sql-table
//   - DELETE … FROM … JOIN, DELETE TOP (1), INTERSECT treating NULLs as
//     equal:
//     https://learn.microsoft.com/en-us/sql/t-sql/statements/delete-transact-sql
//     https://learn.microsoft.com/en-us/sql/t-sql/language-elements/set-operators-except-and-intersect-transact-sql
//   - SAVE TRANSACTION / ROLLBACK TRANSACTION to a savepoint, with
//     XACT_ABORT OFF (the default) so that a constraint error ends the
//     statement, not the transaction:
//     https://learn.microsoft.com/en-us/sql/t-sql/language-elements/save-transaction-transact-sql
//     https://learn.microsoft.com/en-us/sql/t-sql/statements/set-xact-abort-transact-sql
//   - SET IDENTITY_INSERT: https://learn.microsoft.com/en-us/sql/t-sql/statements/set-identity-insert-transact-sql
//   - @@ROWCOUNT after UPDATE, and the row count go-mssqldb reports as
//     RowsAffected for a one-statement batch:
//     https://learn.microsoft.com/en-us/sql/t-sql/functions/rowcount-transact-sql
//   - OBJECT_ID, sys.columns (is_identity), sys.indexes (is_unique,
//     has_filter), sys.index_columns:
//     https://learn.microsoft.com/en-us/sql/t-sql/functions/object-id-transact-sql
//     https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-columns-transact-sql
//     https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-indexes-transact-sql
//   - the conversion of NVARCHAR parameters in ISO 8601 forms to DATE,
//     DATETIME2, DATETIMEOFFSET and TIME, and of decimal text to DECIMAL:
//     https://learn.microsoft.com/en-us/sql/t-sql/functions/cast-and-convert-transact-sql
//   - error numbers 2627, 2601, 547, 515, 2628/8152, 8115:
//     https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors
//
// The suite's DDL names the type text, which SQL Server has only as a
// deprecated type that cannot be compared (INTERSECT fails on it); the
// Exec here creates nvarchar(max) columns instead (sqlDDL).

import (
	"database/sql"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	_ "github.com/microsoft/go-mssqldb" // the "sqlserver" driver for the checking connection

	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// suite runs the tests every target must pass against a real server.
var suite = applytest.Suite{NewEnv: suiteEnv, Schema: "", OpsDDL: opsDDL, StrictDDL: strictDDL}

const opsDDL = `CREATE TABLE items (id integer PRIMARY KEY, name nvarchar(max), note nvarchar(max), qty integer, extra nvarchar(max) DEFAULT 'x');
CREATE TABLE pairs (a integer, b nvarchar(10), v nvarchar(max), PRIMARY KEY (a, b));
CREATE TABLE logs (msg nvarchar(max), n integer);
INSERT INTO items (id, name, note, qty) VALUES (1, 'one', 'big note', 10), (2, 'two', NULL, 20);
INSERT INTO pairs VALUES (1, 'x', 'old');
INSERT INTO logs VALUES ('dup', 1), ('dup', 1), ('other', 2)`

const strictDDL = `CREATE TABLE items (id integer PRIMARY KEY, name nvarchar(max) NOT NULL, note nvarchar(5), qty integer CHECK (qty >= 0))`

var items, _, _ = applytest.Tables("")

// textType matches the type name text in the suite's DDL.
var textType = regexp.MustCompile(`(?i)\btext\b`)

// sqlDDL rewrites the suite's DDL for SQL Server: text is nvarchar(max).
func sqlDDL(s string) string {
	if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(s)), "CREATE TABLE") {
		return s
	}
	return textType.ReplaceAllString(s, "nvarchar(max)")
}

// newRealEnv creates a database on the real server and a Target for it,
// whose Config each of with may change.
func newRealEnv(t testing.TB, with ...func(*Config)) applytest.Env {
	t.Helper()
	dsn := testenv.MSSQLDatabase(t)
	ctx := applytest.Context(t)
	cfg := Config{Name: "replica", DSN: dsn, CreateTables: true, SyncdVersion: "test"}
	for _, f := range with {
		f(&cfg)
	}
	tg, err := New(cfg,
		Options{Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Close)
	check, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	check.SetMaxOpenConns(1)
	t.Cleanup(func() { check.Close() })
	return applytest.Env{
		Target: tg,
		Exec: func(stmts ...string) {
			t.Helper()
			for _, s := range stmts {
				if _, err := check.ExecContext(ctx, sqlDDL(s)); err != nil {
					t.Fatalf("exec %q: %v", s, err)
				}
			}
		},
		Rows: func(query string) []string { return rows(t, check, query) },
	}
}

func suiteEnv(t testing.TB) applytest.Env { return newRealEnv(t) }

// rows returns query's rows as testenv.Rows does.
func rows(t testing.TB, db *sql.DB, query string) []string {
	t.Helper()
	out, err := testenv.Rows(db, query)
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return out
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestRealServerApplyOps(t *testing.T)    { testenv.RequireMSSQL(t); suite.Ops(t) }
func TestRealServerApplyGroups(t *testing.T) { testenv.RequireMSSQL(t); suite.Groups(t) }

// TestRealServerProbeAll: the two-way probe (probe.go) reads what the
// suite expects, one change at a time and in one batch.
func TestRealServerProbeAll(t *testing.T) { testenv.RequireMSSQL(t); suite.ProbeAll(t) }
func TestRealServerCommitIsAtomic(t *testing.T) {
	testenv.RequireMSSQL(t)
	suite.CommitIsAtomic(t,
		applytest.Bad{Name: "too long", Change: applytest.Change(items, capture.OpUpdate, applytest.Key(51), "", `{"id":51,"name":"x","note":"123456","qty":1}`)},
		applytest.Bad{Name: "out of range", Change: applytest.Change(items, capture.OpUpdate, applytest.Key(51), "", `{"id":51,"name":"x","note":null,"qty":99999999999}`)},
		applytest.Bad{Name: "bad value", Change: applytest.Change(items, capture.OpInsert, applytest.Key(52), "", `{"id":52,"name":"x","note":null,"qty":"many"}`), Named: true})
}

// TestRealServerSendAhead: items has 4 published columns, so a group holds
// maxParams/4 rows.
func TestRealServerSendAhead(t *testing.T) { testenv.RequireMSSQL(t); suite.SendAhead(t, maxParams/4) }
func TestRealServerIsolateRejects(t *testing.T) {
	testenv.RequireMSSQL(t)
	suite.IsolateRejects(t, applytest.Change(items, capture.OpInsert, applytest.Key(6), "", `{"id":6,"name":"x","note":"123456","qty":1}`))
}
func TestRealServerConstraintsAreRejected(t *testing.T) {
	testenv.RequireMSSQL(t)
	suite.ConstraintsAreRejected(t)
}
func TestRealServerOneTransactionAtATime(t *testing.T) {
	testenv.RequireMSSQL(t)
	suite.OneTransactionAtATime(t)
}
func TestRealServerRelandOfMissingRow(t *testing.T) {
	testenv.RequireMSSQL(t)
	suite.RelandOfMissingRow(t)
}
func TestRealServerPartialUpdateOfMissingRow(t *testing.T) {
	testenv.RequireMSSQL(t)
	suite.PartialUpdateOfMissingRow(t)
}

// TestRealServerCheckpointRoundTrip: see applytest.CheckpointRoundTrip;
// last_stream_seq beyond BIGINT's range included.
func TestRealServerCheckpointRoundTrip(t *testing.T) {
	e := newRealEnv(t)
	applytest.CheckpointRoundTrip(t, e, items, applytest.CheckpointOptions{StreamSeq: 1<<63 + 7, JSONText: true})
}

// TestRealServerIdentityKey: rows of a table whose key is an IDENTITY
// column keep the source's key values (SET IDENTITY_INSERT), in batches,
// and the setting is off again after each statement, so that a second
// identity table can be written in the same transaction.
func TestRealServerIdentityKey(t *testing.T) {
	e := newRealEnv(t)
	a := applytest.Schema("ida", []string{"id"}, "id integer", "v text")
	b := applytest.Schema("idb", []string{"id"}, "id integer", "v text")
	e.Exec(`CREATE TABLE ida (id integer IDENTITY(1,1) PRIMARY KEY, v nvarchar(max))`,
		`CREATE TABLE idb (id integer IDENTITY(1,1) PRIMARY KEY, v nvarchar(max))`)
	ctx := applytest.Context(t)
	if err := e.Target.Prepare(ctx, "s", []*router.TableSchema{a, b}); err != nil {
		t.Fatal(err)
	}
	err := applytest.Run(ctx, e.Target, false, applytest.Record(1),
		applytest.Change(a, capture.OpInsert, `{"id":7}`, "", `{"id":7,"v":"a7"}`),
		applytest.Change(a, capture.OpInsert, `{"id":9}`, "", `{"id":9,"v":"a9"}`),
		applytest.Change(b, capture.OpInsert, `{"id":5}`, "", `{"id":5,"v":"b5"}`),
		applytest.Change(a, capture.OpUpdate, `{"id":7}`, "", `{"id":7,"v":"a7'"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Rows(`SELECT id, v FROM ida ORDER BY id`), []string{"7|a7'", "9|a9"}; !slices.Equal(got, want) {
		t.Errorf("ida %q, want %q", got, want)
	}
	if got, want := e.Rows(`SELECT id, v FROM idb`), []string{"5|b5"}; !slices.Equal(got, want) {
		t.Errorf("idb %q, want %q", got, want)
	}
}
