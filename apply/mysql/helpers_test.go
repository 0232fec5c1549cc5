package mysql

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// The tests share one MariaDB server, started by the first test that
// needs it; each test gets a database of its own. Tests that stop the
// server start one of their own.
var (
	serverOnce sync.Once
	shared     *testenv.MariaDB
	program    = testenv.NewProgram()
	dbCount    atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	program.Close()
	os.Exit(code)
}

func startServer() *testenv.MariaDB {
	serverOnce.Do(func() { shared = testenv.StartMariaDB(program, ownTmpdir(program)) })
	return shared
}

// ownTmpdir gives a server a temporary directory of its own: with the
// default, /tmp, its internal temporary tables (information_schema
// queries) were seen to vanish under load from other programs, failing
// statements with "Error on delete of '/tmp/#sql-temptable-…'".
func ownTmpdir(t testenv.TB) testenv.MariaDBOption {
	dir, err := os.MkdirTemp("", "syncd-mariadb-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil { // the server runs as mysql
		t.Fatal(err)
	}
	return testenv.WithMariaDBOption("tmpdir", dir)
}

// env is one test's database and a Target writing to it.
type env struct {
	t   testing.TB
	m   *testenv.MariaDB
	db  string
	dsn string
	tg  *Target
	sql *sql.DB // for setting up and checking
}

// newEnv creates a database on the shared server and a Target for it;
// opts adjust the config.
func newEnv(t testing.TB, opts ...func(*Config)) *env {
	t.Helper()
	return newEnvOn(t, startServer(), opts...)
}

// newEnvOn is newEnv on server m.
func newEnvOn(t testing.TB, m *testenv.MariaDB, opts ...func(*Config)) *env {
	t.Helper()
	db := fmt.Sprintf("t%d", dbCount.Add(1))
	dsn := m.CreateDB(t, db)
	cfg := Config{Name: "replica", DSN: dsn, CreateTables: true, SyncdVersion: "test"}
	for _, o := range opts {
		o(&cfg)
	}
	tg, err := New(cfg, Options{Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Close)
	// The checking connection reads values as the server writes them:
	// text protocol (interpolated parameters), no time parsing.
	cc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cc.ParseTime, cc.InterpolateParams, cc.MultiStatements = false, true, true
	check, err := sql.Open("mysql", cc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	check.SetMaxOpenConns(1)
	t.Cleanup(func() { check.Close() })
	return &env{t: t, m: m, db: db, dsn: dsn, tg: tg, sql: check}
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// exec runs statements on the test's database.
func (e *env) exec(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		if _, err := e.sql.ExecContext(applytest.Context(e.t), s); err != nil {
			e.t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// rows returns query's rows, each as its columns' text joined by "|",
// NULL as "∅".
func (e *env) rows(query string, args ...any) []string {
	e.t.Helper()
	rows, err := e.sql.QueryContext(applytest.Context(e.t), query, args...)
	if err != nil {
		e.t.Fatalf("query %q: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			e.t.Fatalf("query %q: %v", query, err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = "∅"
			} else {
				parts[i] = string(v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		e.t.Fatalf("query %q: %v", query, err)
	}
	return out
}

// prepare prepares the tables and fails the test on error.
func (e *env) prepare(tables ...*router.TableSchema) {
	e.t.Helper()
	if err := e.tg.Prepare(applytest.Context(e.t), "s", tables); err != nil {
		e.t.Fatalf("prepare: %v", err)
	}
}

// run applies changes in one transaction and commits it with rec. It
// returns the first error.
func (e *env) run(isolate bool, rec checkpoint.Record, changes ...*apply.Change) error {
	return applytest.Run(applytest.Context(e.t), e.tg, isolate, rec, changes...)
}

// suite returns e for the shared tests.
func (e *env) suite() applytest.Env {
	return applytest.Env{Target: e.tg, Exec: e.exec, Rows: func(query string) []string { return e.rows(query) }}
}

// suiteEnv is newEnv for the shared tests.
func suiteEnv(t testing.TB) applytest.Env { return newEnv(t).suite() }
