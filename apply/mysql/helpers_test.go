package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
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

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// exec runs statements on the test's database.
func (e *env) exec(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		if _, err := e.sql.ExecContext(ctxT(e.t), s); err != nil {
			e.t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// rows returns query's rows, each as its columns' text joined by "|",
// NULL as "∅".
func (e *env) rows(query string, args ...any) []string {
	e.t.Helper()
	rows, err := e.sql.QueryContext(ctxT(e.t), query, args...)
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
	if err := e.tg.Prepare(ctxT(e.t), "s", tables); err != nil {
		e.t.Fatalf("prepare: %v", err)
	}
}

// run applies changes in one transaction and commits it with rec. It
// returns the first error.
func (e *env) run(isolate bool, rec checkpoint.Record, changes ...*apply.Change) error {
	ctx := ctxT(e.t)
	tx, err := e.tg.Begin(ctx, isolate)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, c := range changes {
		if err := tx.Apply(ctx, c); err != nil {
			return err
		}
	}
	return tx.Commit(ctx, rec)
}

// in returns ts with its target in the test's database.
func (e *env) in(ts *router.TableSchema) *router.TableSchema {
	c := *ts
	c.Target.Schema = e.db
	return &c
}

// record is a checkpoint record for scope "s" of source "app".
func record(pos capture.Position) checkpoint.Record {
	return checkpoint.Record{Scope: "s", Source: "app", ScopeVersion: 1, Position: pos, StreamSeq: uint64(pos),
		AppliedAt: time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)}
}

// schema describes a PostgreSQL scope table: target "schema.name" (an
// empty schema: the DSN's database), key columns, and columns as
// "name type".
func schema(target string, key []string, cols ...string) *router.TableSchema {
	s, n, ok := strings.Cut(target, ".")
	if !ok {
		s, n = "", target
	}
	ts := &router.TableSchema{Scope: "s", SourceKind: "postgres", Source: capture.TableID{Schema: "public", Name: n},
		Target: capture.TableID{Schema: s, Name: n}, Key: key}
	for _, c := range cols {
		name, typ, _ := strings.Cut(c, " ")
		ts.Columns = append(ts.Columns, router.ColumnSchema{Name: name, Type: typ})
	}
	return ts
}

// obj parses a JSON object of wire values; "" is nil.
func obj(s string) map[string]json.RawMessage {
	if s == "" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(fmt.Sprintf("bad test JSON %s: %v", s, err))
	}
	return m
}

// change builds a change of ts: key, before and after as JSON objects.
func change(ts *router.TableSchema, op capture.Op, key, before, after string, unchanged ...string) *apply.Change {
	return &apply.Change{Table: ts, Op: op, Key: obj(key), Before: obj(before), After: obj(after), Unchanged: unchanged}
}
