package apply_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/syncd-dev/syncd/apply"
	applymysql "github.com/syncd-dev/syncd/apply/mysql"
	applypg "github.com/syncd-dev/syncd/apply/postgres"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

var (
	category = &capture.Table{Schema: "public", Name: "category",
		Columns: []capture.Column{{Name: "id", Type: "integer"}, {Name: "name", Type: "text"}}, Key: []int{0}}
	product = &capture.Table{Schema: "public", Name: "product",
		Columns: []capture.Column{{Name: "id", Type: "integer"}, {Name: "name", Type: "text"}}, Key: []int{0}}
)

// rig is a scope "s" of tables category and product, published by
// routers a test makes, applied by a worker to a target of kind
// "postgres" or "mysql".
type rig struct {
	t      *testing.T
	kind   string
	cfg    *scopes.Config
	conn   *router.Conn
	nats   string  // the NATS server's URL
	check  *sql.DB // the target database
	worker *apply.Worker
	gate   apply.Gate          // the worker's, if set before run
	tune   func(*apply.Config) // if set before run, edits the worker's config
	m      *apply.Metrics
	done   chan error // the worker's Run result
}

func newRig(t *testing.T, kind, snapshot string) *rig {
	return newRigWith(t, kind, fmt.Sprintf(`
scope "s" {
  source   = "app"
  snapshot = %q
  targets  = ["t"]
  table "public.category" {}
  table "public.product" {}
}`, snapshot))
}

// newRigWith is newRig with the scopes of scopesHCL, the worker's scope
// first, applied to target "t".
func newRigWith(t *testing.T, kind, scopesHCL string) *rig {
	nt := testenv.StartNATS(t)
	var dsn, driver string
	switch kind {
	case scopes.KindPostgres:
		dsn, driver = testenv.StartPostgres(t).CreateDB(t, "target"), "pgx"
	case scopes.KindMySQL:
		dsn, driver = testenv.StartMariaDB(t).CreateDB(t, "target"), "mysql"
	}
	path := filepath.Join(t.TempDir(), "syncd.hcl")
	hcl := fmt.Sprintf(`
source "postgres" "app" { dsn = "postgres://localhost/app" }
target %q "t" {
  dsn           = %q
  create_tables = true
}
%s`, kind, dsn, scopesHCL)
	if err := os.WriteFile(path, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := scopes.Load(path, scopes.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	conn, err := router.Connect(scopes.NATS{URL: nt.URL}, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	check, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { check.Close() })
	return &rig{t: t, kind: kind, cfg: cfg, conn: conn, nats: nt.URL, check: check}
}

// router makes a router for source app, as a capture session does after
// a restart.
func (g *rig) router() *router.Router {
	g.t.Helper()
	r, err := router.New(context.Background(), g.conn, g.cfg, router.SourceInfo{Kind: "postgres", Name: "app", DB: "app"},
		router.Options{BatchSize: 10, Logger: hclog.NewNullLogger(), AckTimeout: 10 * time.Second})
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { r.Close() })
	return r
}

// txn feeds r one transaction at pos: a truncate first if it is a
// snapshot of scope s, then a row per id. Unless commit, it stops there,
// as a crash would: what r sent is stored, the held last message is not.
func (g *rig) txn(r *router.Router, pos capture.Position, t *capture.Table, snapshot, commit bool, ids ...int) {
	g.t.Helper()
	ctx := context.Background()
	txn := &capture.Txn{ID: fmt.Sprint(pos), Pos: pos, Ack: pos + 1, CommitTime: time.Now(), Snapshot: snapshot}
	op, scope := capture.OpInsert, ""
	if snapshot {
		op, scope = capture.OpRead, "s"
	}
	must(g.t, r.Begin(ctx, txn))
	if snapshot {
		must(g.t, r.Change(ctx, &capture.Event{Txn: txn, Table: t, Op: capture.OpTruncate, Scope: scope}))
	}
	for _, id := range ids {
		must(g.t, r.Change(ctx, &capture.Event{Txn: txn, Table: t, Op: op, After: capture.Row{int32(id), fmt.Sprint("n", id)}, Scope: scope}))
	}
	if commit {
		must(g.t, r.Commit(ctx, txn))
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	must(g.t, r.Drain(dctx))
	if snapshot && commit {
		must(g.t, r.SnapshotDone(ctx, capture.SnapshotRequest{Scope: "s", Table: t.ID()}, int64(len(ids))))
	}
}

// run starts the worker; stop, or the test's end, stops it.
func (g *rig) run() (stop func()) {
	var target apply.Target
	var err error
	dsn := g.cfg.Target("t").DSN
	switch g.kind {
	case scopes.KindPostgres:
		target, err = applypg.New(applypg.Config{Name: "t", DSN: dsn, CreateTables: true, SyncdVersion: "test"}, applypg.Options{})
	case scopes.KindMySQL:
		target, err = applymysql.New(applymysql.Config{Name: "t", DSN: dsn, CreateTables: true, SyncdVersion: "test"}, applymysql.Options{})
	}
	if err != nil {
		g.t.Fatal(err)
	}
	g.m = apply.NewMetrics(nil)
	cfg := apply.Config{Scope: g.cfg.Scopes[0], Target: "t", SyncdVersion: "test", Gate: g.gate}
	if g.tune != nil {
		g.tune(&cfg)
	}
	g.worker = apply.NewWorker(cfg, g.conn, target, hclog.NewNullLogger(), g.m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	g.done = done
	go func() { done <- g.worker.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	g.t.Cleanup(stop)
	return stop
}

// appliedThrough waits until the worker's checkpoint is at pos.
func (g *rig) appliedThrough(pos capture.Position) {
	g.t.Helper()
	testenv.Eventually(g.t, 20*time.Second, 20*time.Millisecond, func() error {
		if st := g.worker.Status(); st.Position != pos {
			return fmt.Errorf("worker at %s (%s %s), want %s", st.Position, st.State, st.Error, pos)
		}
		return nil
	})
}

// ids returns the ids in table name at the target (public.name at a
// PostgreSQL target, public's database at a MySQL one), or nil without it.
func (g *rig) ids(name string) []int {
	g.t.Helper()
	rows, err := g.check.Query("SELECT id FROM public." + name + " ORDER BY id")
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "doesn't exist") {
			return nil
		}
		g.t.Fatal(err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		must(g.t, rows.Scan(&id))
		ids = append(ids, id)
	}
	must(g.t, rows.Err())
	return ids
}

// rowsApplied returns the rows-applied counter of each op, as "op:n".
func (g *rig) rowsApplied() string {
	g.t.Helper()
	var out []string
	for _, op := range []string{"c", "d", "r", "t", "u"} {
		var m dto.Metric
		must(g.t, g.m.Rows.WithLabelValues("s", "t", op).Write(&m))
		if n := m.GetCounter().GetValue(); n != 0 {
			out = append(out, fmt.Sprintf("%s:%v", op, n))
		}
	}
	return strings.Join(out, " ")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestWorkerDiscardsCutSnapshot: a snapshot transaction that syncd
// stopped publishing halfway stays in the stream without its last
// message, and the next router goes on with other transactions; the
// table's copy comes again later. The target must never show the cut
// copy (a table truncated and partly filled), nor lose the transaction
// before it.
func TestWorkerDiscardsCutSnapshot(t *testing.T) {
	for _, kind := range []string{scopes.KindPostgres, scopes.KindMySQL} {
		t.Run(kind, func(t *testing.T) { testWorkerDiscardsCutSnapshot(t, kind) })
	}
}

func testWorkerDiscardsCutSnapshot(t *testing.T, kind string) {
	g := newRig(t, kind, "initial")
	r := g.router()
	g.txn(r, 100, category, true, true, 1, 2, 3)
	g.txn(r, 200, category, false, true, 4)
	g.txn(r, 299, product, true, false, seq(1, 25)...) // cut: 25 of its 26 messages stored
	r.Close()

	r = g.router() // resumes inside the cut copy; product's snapshot is pending again
	g.txn(r, 400, category, false, true, 5)
	g.run()
	g.appliedThrough(400)
	if got := g.ids("product"); len(got) != 0 {
		t.Fatalf("target shows %d rows of the cut snapshot of product: %v", len(got), got)
	}
	if got, want := fmt.Sprint(g.ids("category")), fmt.Sprint(seq(1, 5)); got != want {
		t.Fatalf("category at the target = %s, want %s", got, want)
	}
	if got, want := g.rowsApplied(), "c:2 r:3 t:1"; got != want { // nothing of the cut copy
		t.Fatalf("rows applied by op: %s, want %s", got, want)
	}

	g.txn(r, 499, product, true, true, seq(1, 40)...) // the copy taken again
	g.appliedThrough(499)
	if got, want := fmt.Sprint(g.ids("product")), fmt.Sprint(seq(1, 40)); got != want {
		t.Fatalf("product at the target = %s, want %s", got, want)
	}
	if got, want := g.rowsApplied(), "c:2 r:43 t:2"; got != want {
		t.Fatalf("rows applied by op: %s, want %s", got, want)
	}
}

// TestWorkerStopsOnCutTransaction: a transaction other than a snapshot
// that the stream does not finish has lost changes; the worker stops the
// scope rather than apply part of it.
func TestWorkerStopsOnCutTransaction(t *testing.T) {
	g := newRig(t, scopes.KindPostgres, "never")
	r := g.router()
	g.txn(r, 100, category, false, true, 1)
	g.txn(r, 200, category, false, false, 2, 3, 4)
	r.Close()
	r = g.router()
	g.txn(r, 300, category, false, true, 5)
	g.run()
	select {
	case err := <-g.done: // Run stops a failed scope with nil, the cause in Status
		g.done <- err // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatalf("worker still running: %+v", g.worker.Status())
	}
	st := g.worker.Status()
	if st.State != apply.StateFailed || st.Position >= 200 || !strings.Contains(st.Error, "lost the rest of a source transaction") {
		t.Fatalf("worker status %+v, want failed before 200 with the cut transaction reported", st)
	}
	if got := g.ids("category"); slices.ContainsFunc(got, func(id int) bool { return id > 1 }) {
		t.Fatalf("category at the target = %v: parts of the cut transaction or after it applied", got)
	}
}

// TestWorkerPause: pausing the scope stops its worker between source
// transactions, even while it waits for messages; it reports paused and
// applies nothing of what the stream receives meanwhile. Resumed, it
// applies that from its checkpoint.
func TestWorkerPause(t *testing.T) {
	g := newRig(t, scopes.KindPostgres, "never")
	ctx := context.Background()
	ctl, err := g.conn.Control(ctx, 1)
	must(t, err)
	t.Cleanup(ctl.Close)
	g.gate = ctl
	r := g.router()
	g.txn(r, 100, category, false, true, 1)
	g.run()
	g.appliedThrough(100)

	_, err = ctl.Pause(ctx, "s")
	must(t, err)
	testenv.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if st := g.worker.Status(); st.State != apply.StatePaused {
			return fmt.Errorf("worker %s (%s), want paused", st.State, st.Error)
		}
		return nil
	})
	g.txn(r, 200, category, false, true, 2, 3)
	g.txn(r, 300, category, false, true, 4)
	if st := g.worker.Status(); st.State != apply.StatePaused || st.Position != 100 {
		t.Fatalf("worker status %+v while paused, want paused at 100", st)
	}
	if got := fmt.Sprint(g.ids("category")); got != "[1]" {
		t.Fatalf("category at the target = %s while paused, want [1]", got)
	}

	_, err = ctl.Resume(ctx, "s")
	must(t, err)
	g.appliedThrough(300)
	if got, want := fmt.Sprint(g.ids("category")), fmt.Sprint(seq(1, 4)); got != want {
		t.Fatalf("category at the target = %s after resume, want %s", got, want)
	}
	if st := g.worker.Status(); st.State != apply.StateApplying {
		t.Fatalf("worker status %+v after resume, want applying", st)
	}
}

// TestWorkerRecordsRoutedDefinition: the scope_info row records the
// definition of the version its last transaction was routed by, as the
// router recorded it: the version before the config's while the stream
// holds changes from before the switch point, the config's after it.
func TestWorkerRecordsRoutedDefinition(t *testing.T) {
	g := newRig(t, scopes.KindPostgres, "never")
	r := g.router()
	g.txn(r, 100, category, false, true, 1) // version 1: category and product
	r.Close()

	path := filepath.Join(t.TempDir(), "v2.hcl")
	must(t, os.WriteFile(path, []byte(fmt.Sprintf(`
source "postgres" "app" { dsn = "postgres://localhost/app" }
target "postgres" "t" { dsn = %q }
scope "s" {
  source   = "app"
  snapshot = "never"
  targets  = ["t"]
  table "public.category" { where = "id > 0" }
}`, g.cfg.Target("t").DSN)), 0o600))
	cfg, diags := scopes.Load(path, scopes.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	g.cfg = cfg
	r = g.router() // records version 2, pending until its first transaction
	g.run()
	g.appliedThrough(100)
	recorded := func(wantVersion, wantTables int) {
		t.Helper()
		var version int
		var def []byte
		must(t, g.check.QueryRow(`SELECT scope_version, definition FROM syncd_scope_info WHERE scope = 's'`).Scan(&version, &def))
		d, err := scopes.ParseDefinition(def)
		must(t, err)
		if version != wantVersion || len(d.Tables) != wantTables {
			t.Fatalf("scope_info holds version %d with %d tables, want version %d with %d:\n%s", version, len(d.Tables), wantVersion, wantTables, def)
		}
	}
	recorded(1, 2)

	g.txn(r, 200, category, false, true, 2) // the switch point: version 2 from here on
	g.appliedThrough(200)
	recorded(2, 1)
}

// TestWorkerQuietSpokeRetention: retention on the stream a template's
// spokes share removes a busy spoke's messages and the quiet spoke's
// last, applied one; the quiet spoke's worker resumes and applies its next
// message. Once retention removes one of the quiet spoke's messages it had
// not applied, its worker stops with the messages after its checkpoint
// gone.
func TestWorkerQuietSpokeRetention(t *testing.T) {
	spoke := func(name, region string) string {
		return fmt.Sprintf(`
scope %q {
  source   = "app"
  snapshot = "never"
  targets  = ["t"]
  template = "spoke"
  params   = { r = %q }
}`, name, region)
	}
	g := newRigWith(t, scopes.KindPostgres, `
template "spoke" {
  params = ["r"]
  table "public.product" { where = "name = :r" }
}`+spoke("quiet", "q")+spoke("busy", "b"))
	r := g.router()
	ctx := context.Background()
	var pos capture.Position
	row := func(region string) capture.Position { // one transaction of one row, id pos/100
		t.Helper()
		pos += 100
		txn := &capture.Txn{ID: fmt.Sprint(pos), Pos: pos, Ack: pos + 1, CommitTime: time.Now()}
		must(t, r.Begin(ctx, txn))
		must(t, r.Change(ctx, &capture.Event{Txn: txn, Table: product, Op: capture.OpInsert, After: capture.Row{int32(pos / 100), region}}))
		must(t, r.Commit(ctx, txn))
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		must(t, r.Drain(dctx))
		return pos
	}
	nc, err := nats.Connect(g.nats)
	must(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	must(t, err)
	keep := func(n int64) { // max_msgs: the server removes the oldest at once
		t.Helper()
		s, err := js.Stream(ctx, router.TemplateStreamName("spoke", "app"))
		must(t, err)
		cfg := s.CachedInfo().Config
		cfg.MaxMsgs = n
		_, err = js.UpdateStream(ctx, cfg)
		must(t, err)
	}

	stop := g.run()
	g.appliedThrough(row("q")) // message 1
	stop()
	row("b") // 2 to 4
	row("b")
	row("b")
	keep(2) // messages 1 and 2 go, then one with each message stored
	stop = g.run()
	g.appliedThrough(row("q")) // 5: the quiet spoke's message before it was 1, applied
	stop()

	row("q") // 6, not applied
	row("b") // 7, 8: 5 and 6 go
	row("b")
	g.run()
	row("q") // 9: the quiet spoke's message before it, 6, is gone
	select {
	case err := <-g.done:
		g.done <- err // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatalf("worker still running: %+v", g.worker.Status())
	}
	if st := g.worker.Status(); st.State != apply.StateFailed || !strings.Contains(st.Error, router.ErrCheckpointGone.Error()) {
		t.Fatalf("worker status %+v, want failed with the messages after its checkpoint gone", st)
	}
	if got, want := g.ids("product"), []int{1, 5}; !slices.Equal(got, want) {
		t.Fatalf("product at the target = %v, want %v", got, want)
	}
}
