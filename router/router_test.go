package router

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

func testConfig(t testing.TB) *scopes.Config {
	t.Helper()
	return loadConfig(t, `
source "postgres" "app" { dsn = "postgres://localhost/app" }
scope "s" {
  source   = "app"
  snapshot = "never"
  table "public.product" {}
}`)
}

func loadConfig(t testing.TB, hcl string) *scopes.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "syncd.hcl")
	err := os.WriteFile(path, []byte(hcl), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := scopes.Load(path, scopes.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return cfg
}

// feeder plays a source: transactions of rows with increasing ids, into
// productTable, or into table with row's rows if set.
type feeder struct {
	t      testing.TB
	r      *Router
	pos    capture.Position
	nextID int32
	table  *capture.Table
	row    func(id int32) capture.Row
}

// txn feeds one transaction of n inserts and, if commit, its commit.
func (f *feeder) txn(n int, commit bool) *capture.Txn {
	f.t.Helper()
	ctx := context.Background()
	f.pos += 100
	txn := &capture.Txn{ID: fmt.Sprint(f.pos), Pos: f.pos, Ack: f.pos + 10, CommitTime: time.Now()}
	if err := f.r.Begin(ctx, txn); err != nil {
		f.t.Fatal(err)
	}
	for range n {
		f.nextID++
		ev := &capture.Event{Txn: txn, Table: productTable, Op: capture.OpInsert, After: capture.Row{f.nextID, "n", capture.Decimal("1"), nil}}
		if f.table != nil {
			ev.Table, ev.After = f.table, f.row(f.nextID)
		}
		if err := f.r.Change(ctx, ev); err != nil {
			f.t.Fatal(err)
		}
	}
	if commit {
		if err := f.r.Commit(ctx, txn); err != nil {
			f.t.Fatal(err)
		}
	}
	return txn
}

// replay rewinds the feeder to replay transactions from position pos.
func (f *feeder) replay(r *Router, pos capture.Position, nextID int32) {
	f.r, f.pos, f.nextID = r, pos, nextID
}

func newRouter(t testing.TB, conn *Conn, cfg *scopes.Config, batch int) *Router {
	t.Helper()
	r, err := New(context.Background(), conn, cfg, SourceInfo{Kind: "postgres", Name: "app", DB: "app"},
		Options{BatchSize: batch, Logger: hclog.NewNullLogger(), AckTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func connect(t testing.TB, url string) *Conn {
	t.Helper()
	conn, err := Connect(scopes.NATS{URL: url}, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// drainDurable drains r and checks that txn is durable, and everything
// before it.
func drainDurable(t testing.TB, r *Router, txn *capture.Txn) {
	t.Helper()
	drain(t, r)
	if pos, idle := r.Durable(); pos != txn.Ack || !idle {
		t.Fatalf("Durable() = %v, %v after draining; want %v, true", pos, idle, txn.Ack)
	}
}

func drain(t testing.TB, r *Router) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// streamMsgs returns every message of the scope's stream, in order.
func streamMsgs(t *testing.T, nc *nats.Conn, scope string) []*jetstream.RawStreamMsg {
	t.Helper()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	s, err := js.Stream(ctx, StreamName(scope))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := uint64(1); seq <= s.CachedInfo().State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// stored returns the stream's messages as (id column, seq, last) triples
// and their headers.
func stored(t *testing.T, nc *nats.Conn, scope string) ([]string, []nats.Header) {
	t.Helper()
	var rows []string
	var headers []nats.Header
	for _, m := range streamMsgs(t, nc, scope) {
		e, err := Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf("%v/%d/%v", e.After["id"], e.Txn.Seq, e.Txn.Last))
		headers = append(headers, m.Header)
	}
	return rows, headers
}

// TestRouterResumesExactly publishes transactions, stops a router in the
// middle of one that spans batches, and replays from an earlier position
// with a new router: the stream must end with each change exactly once.
func TestRouterResumesExactly(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	cfg := testConfig(t)

	r1 := newRouter(t, conn, cfg, 4)
	f := &feeder{t: t, r: r1}
	f.txn(3, true)       // ids 1-3
	t2 := f.txn(5, true) // ids 4-8, spans batches
	t3 := f.txn(2, true) // ids 9-10
	drainDurable(t, r1, t3)
	f.txn(6, false) // ids 11-16, no commit: the source "crashed"
	if err := r1.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	drain(t, r1)
	if pos, _ := r1.Durable(); pos != t3.Ack {
		t.Fatalf("Durable() = %v with an uncommitted transaction, want %v", pos, t3.Ack)
	}
	r1.Close()

	// The source resends from after t2: t3 and the unfinished transaction.
	r2 := newRouter(t, conn, cfg, 4)
	f.replay(r2, t2.Pos, 8)
	f.txn(2, true)       // ids 9-10: all stored already
	t4 := f.txn(6, true) // ids 11-16: 11-15 stored, 16 is new
	t5 := f.txn(1, true) // id 17
	drainDurable(t, r2, t5)
	_ = t4

	rows, _ := stored(t, conn.nc, "s")
	want := []string{
		"1/1/false", "2/2/false", "3/3/true",
		"4/1/false", "5/2/false", "6/3/false", "7/4/false", "8/5/true",
		"9/1/false", "10/2/true",
		"11/1/false", "12/2/false", "13/3/false", "14/4/false", "15/5/false", "16/6/true",
		"17/1/true",
	}
	if strings.Join(rows, " ") != strings.Join(want, " ") {
		t.Fatalf("stream holds\n%v\nwant\n%v", rows, want)
	}
}

// TestRouterBatchesEndOnTransactions checks that a batch ends only at a
// transaction's end or when full, so that a transaction larger than a
// batch spans batches. Where a batch ends otherwise depends on acks (see
// TestRouterSendsWhenIdle). Every batch here is atomic, so that its
// messages show where it ends.
func TestRouterBatchesEndOnTransactions(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	r := newRouter(t, conn, testConfig(t), 10)
	r.order[0].w.singles = 0
	f := &feeder{t: t, r: r}
	for range 4 {
		f.txn(3, true)
	}
	f.txn(12, true) // larger than a batch
	drain(t, r)

	rows, headers := stored(t, conn.nc, "s")
	if len(rows) != 24 {
		t.Fatalf("stream holds %d messages, want 24: %v", len(rows), rows)
	}
	var sizes []int
	for i, h := range headers {
		if i == 0 || h.Get(hdrBatchID) != headers[i-1].Get(hdrBatchID) {
			sizes = append(sizes, 0)
		}
		sizes[len(sizes)-1]++
		if h.Get(hdrBatchSeq) != fmt.Sprint(sizes[len(sizes)-1]) {
			t.Fatalf("message %d: batch sequence %s, want %d", i, h.Get(hdrBatchSeq), sizes[len(sizes)-1])
		}
		last := i == len(headers)-1 || h.Get(hdrBatchID) != headers[i+1].Get(hdrBatchID)
		if last && sizes[len(sizes)-1] < 10 && !strings.HasSuffix(rows[i], "/true") {
			t.Fatalf("batch %d ends with %s, inside a transaction, with %d messages (rows %v)", len(sizes), rows[i], sizes[len(sizes)-1], rows)
		}
	}
	spans := 0
	for i := 12; i < 24; i++ {
		if i == 12 || headers[i].Get(hdrBatchID) != headers[i-1].Get(hdrBatchID) {
			spans++
		}
	}
	if spans < 2 {
		t.Fatalf("the 12-message transaction is in %d batch, want at least 2 (batch sizes %v)", spans, sizes)
	}
}

// TestRouterNeedsServerVersion checks that no router is made while the
// connection is down, when the server's version, which says whether it
// takes atomic batches, is unknown; and that one made after the
// reconnect uses them.
func TestRouterNeedsServerVersion(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	cfg := testConfig(t)
	srv.Shutdown()
	waitConnected(t, conn, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := New(ctx, conn, cfg, SourceInfo{Kind: "postgres", Name: "app", DB: "app"}, Options{Logger: hclog.NewNullLogger()})
	if !errors.Is(err, ErrDisconnected) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("New while disconnected: %v; want ErrDisconnected", err)
	}
	srv.Restart(t)
	waitConnected(t, conn, true)
	if r := newRouter(t, conn, cfg, 0); !r.Status()[0].Atomic {
		t.Fatal("router made after the reconnect does not use atomic batches")
	}
}

// waitConnected waits until conn's connection to NATS is up, or down.
func waitConnected(t *testing.T, conn *Conn, up bool) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if conn.nc.IsConnected() != up {
			return fmt.Errorf("connected: %v, want %v", !up, up)
		}
		return nil
	})
}

// TestRouterSendsWhenIdle checks group commit: with no batch in flight, a
// transaction's batch goes out at its commit, without a Flush, however
// small.
func TestRouterSendsWhenIdle(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	r := newRouter(t, conn, testConfig(t), 1000)
	f := &feeder{t: t, r: r}
	txn := f.txn(2, true)
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if pos, idle := r.Durable(); pos != txn.Ack || !idle {
			return fmt.Errorf("Durable() = %v, %v; want %v, true", pos, idle, txn.Ack)
		}
		return nil
	})
}

// TestRouterRefusesForeignWriter checks that a message published to the
// stream by someone else makes the next batch fail rather than leave a
// gap, and that the durable position does not move past it: with atomic
// batches, and with the single messages of a server without them.
func TestRouterRefusesForeignWriter(t *testing.T) {
	t.Run("atomic", func(t *testing.T) { refusesForeignWriter(t, testenv.StartNATS(t).URL) })
	t.Run("nats-server 2.9", func(t *testing.T) { refusesForeignWriter(t, testenv.StartNATSProcess(t).URL) })
}

func refusesForeignWriter(t *testing.T, url string) {
	conn := connect(t, url)
	r := newRouter(t, conn, testConfig(t), 10)
	f := &feeder{t: t, r: r}
	t1 := f.txn(2, true)
	drain(t, r)

	js, _ := jetstream.New(conn.nc)
	if _, err := js.Publish(context.Background(), "syncd.s.app.public.product.c", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	// The refusal comes back by the time of the Drain, or, on a fast
	// answer, already at the transaction's commit.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.pos += 100
	t2 := &capture.Txn{ID: fmt.Sprint(f.pos), Pos: f.pos, Ack: f.pos + 10, CommitTime: time.Now()}
	err := r.Begin(ctx, t2)
	for i := int32(1); err == nil && i <= 2; i++ {
		err = r.Change(ctx, &capture.Event{Txn: t2, Table: productTable, Op: capture.OpInsert, After: capture.Row{100 + i, "n", capture.Decimal("1"), nil}})
	}
	if err == nil {
		err = r.Commit(ctx, t2)
	}
	if err == nil {
		err = r.Drain(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), "last sequence") {
		t.Fatalf("a transaction after a foreign write: %v, want a wrong last sequence error", err)
	}
	if pos, _ := r.Durable(); pos != t1.Ack {
		t.Fatalf("Durable() = %v, want %v", pos, t1.Ack)
	}
	if st := r.Status(); st[0].Error == "" {
		t.Fatalf("Status() shows no error: %+v", st)
	}
	// The foreign message took the place of the first, so the second's
	// expected last sequence matches: its expected message id must not.
	if msgs := streamMsgs(t, conn.nc, "s"); len(msgs) != 3 {
		t.Fatalf("stream holds %d messages after the foreign one, want 3 (2 of ours, the foreign one)", len(msgs))
	}
}

// TestRouterSendsSmallBatchesSingly checks that a batch of a few messages
// goes as single messages, each conditional on the one before it, and a
// larger one as an atomic batch, and that both are durable when
// acknowledged.
func TestRouterSendsSmallBatchesSingly(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	r := newRouter(t, conn, testConfig(t), 1000)
	f := &feeder{t: t, r: r}
	small := f.txn(3, true)
	drainDurable(t, r, small)
	large := f.txn(maxSingles+1, true)
	drainDurable(t, r, large)
	after := f.txn(2, true)
	drainDurable(t, r, after)

	_, headers := stored(t, conn.nc, "s")
	if want := 3 + maxSingles + 1 + 2; len(headers) != want {
		t.Fatalf("stream holds %d messages, want %d", len(headers), want)
	}
	singles := append(headers[:3:3], headers[3+maxSingles+1:]...)
	for i, h := range singles {
		if h.Get(hdrBatchID) != "" {
			t.Fatalf("single %d is in an atomic batch: %v", i+1, h)
		}
	}
	id := headers[3].Get(hdrBatchID)
	for i, h := range headers[3 : 3+maxSingles+1] {
		if id == "" || h.Get(hdrBatchID) != id {
			t.Fatalf("message %d of a %d-message transaction: batch id %q, want all in one atomic batch", i+1, maxSingles+1, h.Get(hdrBatchID))
		}
	}
	// Each single expects the stream to end with the message before it,
	// the last of the atomic batch included.
	for i, h := range headers {
		if h.Get(hdrBatchID) != "" {
			continue
		}
		if got, want := h.Get(hdrExpectedLast), fmt.Sprint(i); got != want {
			t.Fatalf("message %d expects last sequence %q, want %q", i+1, got, want)
		}
		if i > 0 && h.Get(hdrExpectedID) != headers[i-1].Get(HeaderMsgID) {
			t.Fatalf("message %d expects last message id %q, want the one before it, %q", i+1, h.Get(hdrExpectedID), headers[i-1].Get(HeaderMsgID))
		}
	}
}

// TestRouterOnServerWithoutAtomicBatches runs against the nats-server
// Debian ships (2.9): syncd publishes one message at a time, in order.
func TestRouterOnServerWithoutAtomicBatches(t *testing.T) {
	srv := testenv.StartNATSProcess(t)
	conn := connect(t, srv.URL)
	if SupportsAtomicBatch(conn.nc) {
		t.Skipf("nats-server %s supports atomic batches; this test needs an older one", conn.nc.ConnectedServerVersion())
	}
	cfg := testConfig(t)
	r := newRouter(t, conn, cfg, 10)
	if r.Status()[0].Atomic {
		t.Fatal("router uses atomic batches on a server without them")
	}
	f := &feeder{t: t, r: r}
	f.txn(3, true)
	t2 := f.txn(2, true)
	drainDurable(t, r, t2)
	r.Close()

	r2 := newRouter(t, conn, cfg, 10)
	f.replay(r2, 100, 3) // resend the second transaction
	f.txn(2, true)
	t3 := f.txn(1, true)
	drain(t, r2)
	if pos, _ := r2.Durable(); pos != t3.Ack {
		t.Fatalf("Durable() = %v, want %v", pos, t3.Ack)
	}
	rows, headers := stored(t, conn.nc, "s")
	if strings.Join(rows, " ") != "1/1/false 2/2/false 3/3/true 4/1/false 5/2/true 6/1/true" {
		t.Fatalf("stream holds %v", rows)
	}
	if headers[0].Get(hdrBatchID) != "" {
		t.Fatalf("message carries a batch id on a server without atomic batches: %v", headers[0])
	}
}

// TestRouterSnapshots checks the sink side of initial snapshots: live
// changes to a table whose snapshot is pending are dropped for that scope
// only, the snapshot transaction goes to its one scope with reason
// snapshot, and a recorded snapshot is not asked for again.
func TestRouterSnapshots(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	cfg := loadConfig(t, `
source "postgres" "app" { dsn = "postgres://localhost/app" }
scope "snap" {
  source = "app"
  table "public.product" { where = "price > 0" }
}
scope "live" {
  source   = "app"
  snapshot = "never"
  table "public.product" {}
}`)
	r := newRouter(t, conn, cfg, 10)
	reqs := r.Snapshots()
	if len(reqs) != 1 || reqs[0].Scope != "snap" || reqs[0].Table != productTable.ID() || reqs[0].Where == nil {
		t.Fatalf("Snapshots() = %+v, want public.product in scope snap, with a filter", reqs)
	}
	if sql, args := reqs[0].Where(nil); sql != `"price" > $1` || len(args) != 1 {
		t.Fatalf("Where = %s %v", sql, args)
	}

	f := &feeder{t: t, r: r}
	f.txn(1, true) // id 1: before the snapshot, only "live" gets it

	ctx := context.Background()
	snap := &capture.Txn{ID: "snapshot", Pos: f.pos + 50, Ack: f.pos + 10, Snapshot: true}
	f.pos += 100
	must(t, r.Begin(ctx, snap))
	must(t, r.Change(ctx, &capture.Event{Txn: snap, Table: productTable, Op: capture.OpTruncate, Scope: "snap"}))
	for _, id := range []int32{1, 2} {
		ev := &capture.Event{Txn: snap, Table: productTable, Op: capture.OpRead, After: capture.Row{id, "n", capture.Decimal("1"), nil}, Scope: "snap"}
		must(t, r.Change(ctx, ev))
	}
	must(t, r.Commit(ctx, snap))
	f.nextID = 2
	f.txn(1, true) // id 3: after the snapshot, both get it
	drain(t, r)
	must(t, r.SnapshotDone(ctx, reqs[0], 2))

	// Each message as its rows' op:reason:id joined by "+", then "/" and
	// its Syncd-Rows. The snapshot's rows go in arrays though the scope
	// has one row per message; live rows do not.
	want := map[string]string{
		"snap": "t:snapshot:<nil>/1 r:snapshot:1+r:snapshot:2/2 c:change:3/",
		"live": "c:change:1/ c:change:3/",
	}
	for scope, w := range want {
		var got []string
		for _, m := range streamMsgs(t, conn.nc, scope) {
			rows, err := DecodeRows(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, e := range rows {
				id := "<nil>"
				if e.After != nil {
					id = string(e.After["id"])
				}
				parts = append(parts, fmt.Sprintf("%s:%s:%s", e.Op, e.Scope.Reason, id))
			}
			if IsPack(m.Data) != (m.Header.Get(HeaderRows) != "") {
				t.Errorf("message %d: array %v, Syncd-Rows %q", m.Sequence, IsPack(m.Data), m.Header.Get(HeaderRows))
			}
			got = append(got, strings.Join(parts, "+")+"/"+m.Header.Get(HeaderRows))
		}
		if strings.Join(got, " ") != w {
			t.Errorf("scope %s holds %v, want %s", scope, got, w)
		}
	}
	r.Close()
	if again := newRouter(t, conn, cfg, 10).Snapshots(); len(again) != 0 {
		t.Fatalf("after SnapshotDone, a new router asks for %+v", again)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRouterFailsFastOnReconnect: batches in flight when the connection
// to NATS breaks may never be acknowledged; after the reconnect the router
// fails at once, not after the ack timeout, so that capture resumes from
// what the streams hold.
func TestRouterFailsFastOnReconnect(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	r := newRouter(t, conn, testConfig(t), 1000)
	f := &feeder{t: t, r: r}
	f.txn(2, true)
	drain(t, r)
	srv.Shutdown()
	f.txn(3, true) // its batch goes out while disconnected: in flight
	if err := r.Flush(context.Background()); err != nil {
		t.Fatalf("Flush while disconnected = %v; want nil, the ack timeout has not passed", err)
	}
	start := time.Now()
	srv.Restart(t)
	testenv.Eventually(t, 15*time.Second, 50*time.Millisecond, func() error {
		if err := r.Flush(context.Background()); !errors.Is(err, errReconnected) {
			return fmt.Errorf("Flush = %v, want errReconnected", err)
		}
		return nil
	})
	if waited := time.Since(start); waited > 15*time.Second {
		t.Fatalf("failed after %v", waited)
	}
}

// subscribed publishes transactions of the given sizes to scope "s" and
// subscribes to it from the start.
func subscribed(t *testing.T, txns ...int) (*Conn, *Subscription) {
	t.Helper()
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	r := newRouter(t, conn, testConfig(t), 1000)
	f := &feeder{t: t, r: r}
	for _, n := range txns {
		f.txn(n, true)
	}
	drain(t, r)
	sub, err := conn.Subscribe(context.Background(), "s", "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn, sub
}

// TestSubscriptionCountsPending: each delivery says how many messages of
// the stream the subscription has yet to deliver after it.
func TestSubscriptionCountsPending(t *testing.T) {
	_, sub := subscribed(t, 3, 2)
	defer sub.Stop()
	ctx := context.Background()
	for want := uint64(4); ; want-- {
		d, err := sub.Next(ctx, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if d.StreamSeq != 5-want || d.Pending != want {
			t.Fatalf("delivery %d pending %d; want %d pending %d", d.StreamSeq, d.Pending, 5-want, want)
		}
		if want == 0 {
			break
		}
	}
}

// TestSubscriptionEnds: Next waits no longer than asked, returns ctx's
// error when ctx is done, and returns a message it cannot decode as an
// error naming it, again on every later call; Stop ends the goroutine
// that reads ahead.
func TestSubscriptionEnds(t *testing.T) {
	conn, sub := subscribed(t, 2)
	ctx := context.Background()
	for range 2 {
		if _, err := sub.Next(ctx, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if _, err := sub.Next(ctx, 100*time.Millisecond); !errors.Is(err, ErrNoMessage) {
		t.Fatalf("Next on a read stream: %v, want ErrNoMessage", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("Next waited %v for 100ms", waited)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sub.Next(done, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a done context: %v", err)
	}

	subject := streamMsgs(t, conn.nc, "s")[0].Subject
	if err := conn.nc.Publish(subject, []byte(`{"op":`)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := sub.Next(ctx, 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "message 3") {
			t.Fatalf("Next on a broken message: %v, want an error naming message 3", err)
		}
	}
	stopped := make(chan struct{})
	go func() { sub.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
}

// TestRouterResnapshot: Resnapshot refuses unless every scope of the
// source has snapshot = "when_needed"; then it makes every table pending
// again, in this router and, as the records are gone, in the next.
func TestRouterResnapshot(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	lost := errors.New("binlog purged")

	mixed := loadConfig(t, `
source "postgres" "app" { dsn = "postgres://localhost/app" }
scope "a" {
  source   = "app"
  snapshot = "when_needed"
  table "public.product" {}
}
scope "b" {
  source = "app"
  table "public.product" {}
}`)
	err := newRouter(t, conn, mixed, 10).Resnapshot(ctx, lost)
	if err == nil || !strings.Contains(err.Error(), `b (snapshot = "initial")`) || strings.Contains(err.Error(), "a (") {
		t.Fatalf("Resnapshot with scope b not allowing it: %v, want b named, and only b", err)
	}

	cfg := loadConfig(t, `
source "postgres" "app" { dsn = "postgres://localhost/app" }
scope "a" {
  source   = "app"
  snapshot = "when_needed"
  table "public.product" {}
}
scope "b" {
  source   = "app"
  snapshot = "when_needed"
  table "public.product" { where = "price > 0" }
}`)
	r := newRouter(t, conn, cfg, 10)
	for _, req := range r.Snapshots() {
		r.snapshotStarted(tableKey{scope: req.Scope, table: req.Table})
		must(t, r.SnapshotDone(ctx, req, 0))
	}
	r.Close()
	r = newRouter(t, conn, cfg, 10)
	if reqs := r.Snapshots(); len(reqs) != 0 {
		t.Fatalf("snapshots done, yet a new router asks for %+v", reqs)
	}
	must(t, r.Resnapshot(ctx, lost))
	for _, rr := range []*Router{r, newRouter(t, conn, cfg, 10)} {
		reqs := rr.Snapshots()
		if len(reqs) != 2 || reqs[0].Scope != "a" || reqs[1].Scope != "b" || reqs[1].Where == nil {
			t.Fatalf("after Resnapshot: Snapshots() = %+v, want product in scopes a and b (filtered)", reqs)
		}
	}
}

// BenchmarkDurableTxn measures the time from a small transaction's commit
// until JetStream has stored it (with an fsync per write, as the embedded
// server does), sent as an atomic batch and as single messages.
func BenchmarkDurableTxn(b *testing.B) {
	for _, rows := range []int{1, 4, 16} {
		for _, singles := range []int{0, maxSingles} {
			name := fmt.Sprintf("rows=%d/atomic", rows)
			if singles > 0 {
				name = fmt.Sprintf("rows=%d/singles", rows)
			}
			b.Run(name, func(b *testing.B) {
				conn := connect(b, testenv.StartNATS(b).URL)
				r := newRouter(b, conn, testConfig(b), 1000)
				r.order[0].w.singles = singles
				f := &feeder{t: b, r: r}
				for b.Loop() {
					f.txn(rows, true)
					drain(b, r)
				}
			})
		}
	}
}
