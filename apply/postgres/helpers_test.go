package postgres

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// The tests share one PostgreSQL server, started by the first test that
// needs it; each test gets a database of its own.
var (
	serverOnce sync.Once
	server     *testenv.Postgres
	program    = testenv.NewProgram()
	dbCount    atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	program.Close()
	os.Exit(code)
}

func startServer() *testenv.Postgres {
	serverOnce.Do(func() { server = testenv.StartPostgres(program, testenv.WithSetting("track_commit_timestamp", "on")) }) // newer_wins reads it
	return server
}

// env is one test's database and a Target writing to it.
type env struct {
	t    testing.TB
	pg   *testenv.Postgres
	db   string
	dsn  string
	tg   *Target
	conn *pgx.Conn // for setting up and checking
}

// newEnv creates a database and a Target for it; opts adjust the config.
func newEnv(t testing.TB, opts ...func(*Config)) *env {
	t.Helper()
	pg := startServer()
	db := fmt.Sprintf("t%d", dbCount.Add(1))
	dsn := pg.CreateDB(t, db)
	cfg := Config{Name: "replica", DSN: dsn, CreateTables: true, SyncdVersion: "test"}
	for _, o := range opts {
		o(&cfg)
	}
	tg, err := New(cfg, Options{Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Close)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return &env{t: t, pg: pg, db: db, dsn: dsn, tg: tg, conn: conn}
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// exec runs statements on the test's database.
func (e *env) exec(sql ...string) {
	e.t.Helper()
	for _, s := range sql {
		if _, err := e.conn.Exec(applytest.Context(e.t), s); err != nil {
			e.t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// rows returns query's rows, each as its columns' text joined by "|",
// NULL as "∅".
func (e *env) rows(query string) []string {
	e.t.Helper()
	rows, err := e.conn.Query(applytest.Context(e.t), query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		e.t.Fatalf("query %q: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := rows.RawValues()
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
