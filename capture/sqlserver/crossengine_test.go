package sqlserver

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/syncd-dev/syncd/apply"
	applymysql "github.com/syncd-dev/syncd/apply/mysql"
	applypg "github.com/syncd-dev/syncd/apply/postgres"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestModelSourceToPostgresAndMariaDB is issue 19's cross-engine test: a
// SQL Server source whose change tracking is the MODEL (model_test.go,
// not a server) is read by the real poll loop (Source) into the real
// router, published on a real NATS JetStream, and applied by the real
// apply workers to a real PostgreSQL and a real MariaDB, whose tables
// create_tables makes from the SQL Server types. After the initial copy,
// random inserts, updates and deletes, a restart, lost changes (the
// cleanup ran past the checkpoint while syncd was stopped) and a
// TRUNCATE, both targets hold exactly the model's rows, in scope items,
// and in scope cheap those with price < 500: rows that move out by an
// update (with or without a column mask) are deleted there, and deletes,
// which carry only the key, reach it too. What it does not
// prove: that SQL Server behaves as the model (layer 4, make
// test-sqlserver), and the go-mssqldb reads (Conn), which it bypasses.
func TestModelSourceToPostgresAndMariaDB(t *testing.T) {
	ctx := context.Background()
	nt := testenv.StartNATS(t)
	pgDSN := testenv.StartPostgres(t).CreateDB(t, "target")
	myDSN := testenv.StartMariaDB(t).CreateDB(t, "target")
	items := &Table{Table: &capture.Table{Schema: "dbo", Name: "items", Key: []int{0}, Columns: []capture.Column{
		{Name: "id", Type: "bigint"}, {Name: "name", Type: "nvarchar(50)"}, {Name: "price", Type: "decimal(10,2)"},
		{Name: "seen", Type: "datetime2(6)"}, {Name: "ok", Type: "bit"}, {Name: "blob", Type: "varbinary(16)"},
	}}, ColumnIDs: []int{1, 2, 3, 5, 6, 7}}
	m := newModel(items)
	rnd := rand.New(rand.NewPCG(19, 19))
	row := func(id int64) capture.Row {
		var name any = fmt.Sprintf("n%d-%d", id, rnd.IntN(100))
		if rnd.IntN(5) == 0 {
			name = nil
		}
		return capture.Row{id, name, capture.Decimal(fmt.Sprintf("%d.%02d", rnd.IntN(1000), rnd.IntN(100))),
			fmt.Sprintf("2026-12-%02dT10:11:12.%06d", 1+rnd.IntN(28), rnd.IntN(1000000)), rnd.IntN(2) == 1, []byte{byte(id), byte(rnd.IntN(256))}}
	}
	// work writes n random changes: inserts, updates of some columns
	// (column masks), updates with no mask, deletes.
	work := func(n int) {
		for range n {
			id := 1 + rnd.Int64N(30)
			switch k := rnd.IntN(10); {
			case k < 3:
				// An update of one column, which the mask names.
				m.mu.Lock()
				old, ok := m.table(items).rows[id]
				m.mu.Unlock()
				if !ok {
					m.upsert(items, row(id), nil, nil)
					continue
				}
				j, r := 1+rnd.IntN(5), slices.Clone(old)
				r[j] = row(id)[j]
				m.upsert(items, r, []int{j}, nil)
			case k < 6:
				m.upsert(items, row(id), nil, nil)
			default:
				m.delete(items, id)
			}
		}
	}
	for id := range int64(8) {
		m.upsert(items, row(id+1), nil, nil)
	}

	// config loads the scopes with snapshot = mode; the definitions, and
	// so the scopes' versions, are the same either way.
	config := func(mode string) *scopes.Config {
		path := filepath.Join(t.TempDir(), "syncd.hcl")
		hcl := fmt.Sprintf(`
source "sqlserver" "erp" { dsn = "sqlserver://model@localhost?database=erp" }
target "postgres" "pg" {
  dsn           = %q
  create_tables = true
}
target "mysql" "my" {
  dsn           = %q
  create_tables = true
}
scope "items" {
  source   = "erp"
  targets  = ["pg", "my"]
  snapshot = %[3]q
  table "dbo.items" {}
}
scope "cheap" {
  source   = "erp"
  targets  = ["pg", "my"]
  snapshot = %[3]q
  table "dbo.items" {
    where  = "price < 500"
    target = "dbo.cheap"
  }
}`, pgDSN, myDSN, mode)
		if err := os.WriteFile(path, []byte(hcl), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, diags := scopes.Load(path, scopes.LoadOptions{})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return cfg
	}
	cfg, cfgInitial := config("when_needed"), config("initial")
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testLog{t}})
	conn, err := router.Connect(scopes.NATS{URL: nt.URL}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	store, err := conn.Positions(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}

	// The apply workers, as cmd/syncd builds them.
	wctx, stopWorkers := context.WithCancel(ctx)
	var workers []chan error
	t.Cleanup(func() {
		stopWorkers()
		for _, done := range workers {
			<-done
		}
	})
	for _, w := range []struct{ scope, target string }{{"items", "pg"}, {"items", "my"}, {"cheap", "pg"}, {"cheap", "my"}} {
		name := w.target
		var target apply.Target
		if name == "pg" {
			target, err = applypg.New(applypg.Config{Name: name, DSN: pgDSN, CreateTables: true, SyncdVersion: "test"}, applypg.Options{Logger: log})
		} else {
			target, err = applymysql.New(applymysql.Config{Name: name, DSN: myDSN, CreateTables: true, SyncdVersion: "test"}, applymysql.Options{Logger: log})
		}
		if err != nil {
			t.Fatal(err)
		}
		a := apply.NewWorker(apply.Config{Scope: cfg.Scope(w.scope), Target: name, SyncdVersion: "test",
			Streams: router.StreamOptionsFrom(cfg.NATS), Commits: apply.NewCommits()}, conn, target, log.With("scope", w.scope, "target", name), apply.NewMetrics(nil))
		done := make(chan error, 1)
		workers = append(workers, done)
		go func() { done <- a.Run(wctx) }()
	}

	// session runs the source, as one capture session of the daemon does:
	// a new Router and Source over the model. wait waits for Run to
	// return and returns its error; stop cancels it first.
	session := func(resnapshot bool) (stop, wait func() error) {
		cfg := cfg
		if !resnapshot {
			cfg = cfgInitial
		}
		r, err := router.New(ctx, conn, cfg, router.SourceInfo{Kind: scopes.KindSQLServer, Name: "erp", DB: "erp"},
			router.Options{Logger: log, Streams: router.StreamOptionsFrom(cfg.NATS)})
		if err != nil {
			t.Fatal(err)
		}
		src, err := New(Config{Name: "erp", Store: store, Resnapshot: resnapshot, PollInterval: 5 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond, MaxVersions: 7},
			m, []*Table{items}, Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		ch := make(chan error, 1)
		go func() { ch <- src.Run(sctx, r) }()
		wait = sync.OnceValue(func() error {
			err := <-ch
			r.Close()
			return err
		})
		stop = func() error {
			cancel()
			return wait()
		}
		t.Cleanup(func() { stop() })
		return stop, wait
	}

	pg, my := testenv.OpenDB(t, "pgx", pgDSN), testenv.OpenDB(t, "mysql", myDSN)
	same := func(what string) {
		t.Helper()
		testenv.Eventually(t, 60*time.Second, 20*time.Millisecond, func() error {
			for _, table := range []string{"items", "cheap"} {
				want := modelRows(m, items, table == "cheap")
				if got := targetRows(pg, `SELECT id::text AS i, name, price::text AS p, to_char(seen, 'YYYY-MM-DD"T"HH24:MI:SS.US'), ok::text AS b, encode(blob, 'hex') FROM dbo.`+table+` ORDER BY id`); !slices.Equal(got, want) {
					return fmt.Errorf("%s: PostgreSQL's %s holds\n%s\nwant\n%s", what, table, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if got := targetRows(my, "SELECT id, name, price, DATE_FORMAT(seen, '%Y-%m-%dT%H:%i:%s.%f'), IF(ok, 'true', 'false'), LOWER(HEX(`blob`)) FROM dbo."+table+" ORDER BY id"); !slices.Equal(got, want) {
					return fmt.Errorf("%s: MariaDB's %s holds\n%s\nwant\n%s", what, table, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			return nil
		})
	}

	stop, _ := session(true)
	same("the initial copy")
	work(60)
	same("inserts, updates and deletes")

	// A restart resumes from the saved checkpoint.
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("stop: %v", err)
	}
	work(10)
	stop, _ = session(true)
	work(30)
	same("after a restart")

	// Lost changes: while syncd is stopped, rows change and the cleanup
	// removes their history past the checkpoint. Without when_needed the
	// source stops, naming the table; with it, the tables are copied
	// again, deletes included.
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("stop: %v", err)
	}
	work(40)
	m.cleanup(m.version)
	_, wait := session(false)
	var lost *LostError
	if err := wait(); !errors.As(err, &lost) || !strings.Contains(err.Error(), "dbo.items") {
		t.Fatalf("Run after cleanup without resnapshot = %v, want a LostError naming dbo.items", err)
	}
	stop, _ = session(true)
	same("after lost changes, copied again")

	// A TRUNCATE, then more changes, while running.
	m.truncate(items)
	work(20)
	same("after a TRUNCATE")
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("stop: %v", err)
	}
}

// modelRows returns the model's rows of t as targetRows reads them, only
// those of price < 500 if cheap.
func modelRows(m *ctModel, t *Table, cheap bool) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := m.table(t).rows
	ids := slices.Sorted(func(yield func(int64) bool) {
		for id := range rows {
			if !yield(id) {
				return
			}
		}
	})
	var out []string
	for _, id := range ids {
		r := rows[id]
		if price, _ := strconv.ParseFloat(string(r[2].(capture.Decimal)), 64); cheap && price >= 500 {
			continue
		}
		name := "∅"
		if r[1] != nil {
			name = r[1].(string)
		}
		out = append(out, fmt.Sprintf("%d|%s|%s|%s|%t|%s", id, name, r[2], r[3], r[4], hex.EncodeToString(r[5].([]byte))))
	}
	return out
}

// targetRows returns testenv.Rows of query, or the error as its one row.
func targetRows(db *sql.DB, query string) []string {
	rows, err := testenv.Rows(db, query)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return rows
}

// testLog sends log lines to the test's log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSpace(string(p)))
	return len(p), nil
}
