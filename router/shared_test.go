package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// spokeFeeder plays a source for spokesConfig scopes: inserts into
// spokeTable, row id in region r<id mod regions>.
func spokeFeeder(t testing.TB, r *Router, regions int) *feeder {
	return &feeder{t: t, r: r, table: spokeTable, row: func(id int32) capture.Row {
		return capture.Row{int64(id), fmt.Sprintf("r%d", id%int32(regions)), "n"}
	}}
}

// syncdStreams lists the streams holding syncd's subjects.
func syncdStreams(t *testing.T, conn *Conn) []string {
	t.Helper()
	js, err := jetstream.New(conn.nc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	l := js.StreamNames(context.Background(), jetstream.WithStreamListSubject("syncd.>"))
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// spokeRows subscribes to scope from the start and returns its rows as
// id/txn.seq/txn.last, until the subscription has nothing more.
func spokeRows(t *testing.T, conn *Conn, scope string) []string {
	t.Helper()
	ctx := context.Background()
	sub, err := conn.Subscribe(ctx, scope, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	var rows []string
	for {
		d, err := sub.Next(ctx, 2*time.Second)
		if err == ErrNoMessage {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range d.Rows {
			if e.Scope.Name != scope {
				t.Fatalf("subscription of %s delivered a row of %s", scope, e.Scope.Name)
			}
			rows = append(rows, fmt.Sprintf("%s/%d/%v", strings.Trim(string(e.After["id"]), `"`), e.Txn.Seq, e.Txn.Last))
		}
		if d.Pending == 0 {
			return rows
		}
	}
}

// TestSpokesShareStream: the spokes of one template publish to one
// stream, SYNCD_SPOKE@APP, while a scope of its own keeps SYNCD_<SCOPE>.
// A router stopped in the middle of a transaction that spans batches is
// replayed from an earlier position by a new one: each spoke's
// subscription by subject then reads exactly its own rows, each once, in
// order, with each transaction whole, and resumes after a checkpoint by
// position among the spoke's messages.
func TestSpokesShareStream(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	cfg := loadConfig(t, spokesConfig(3)+`
scope "all" {
  source   = "app"
  snapshot = "never"
  table "public.orders" {}
}`)
	r1 := newRouter(t, conn, cfg, 4)
	f := spokeFeeder(t, r1, 3)
	f.txn(6, true)       // ids 1-6
	t2 := f.txn(7, true) // ids 7-13, spans batches
	t3 := f.txn(3, true) // 14-16
	drainDurable(t, r1, t3)
	f.txn(9, false) // 17-25, no commit: the source "crashed"
	if err := r1.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	drain(t, r1)
	r1.Close()

	if got, want := syncdStreams(t, conn), []string{"SYNCD_ALL", "SYNCD_SPOKE@APP"}; !slices.Equal(got, want) {
		t.Fatalf("streams %v, want %v", got, want)
	}

	// The source resends from after t2: t3 and the unfinished transaction.
	r2 := newRouter(t, conn, cfg, 4)
	f.r, f.pos, f.nextID = r2, t2.Pos, 13
	f.txn(3, true)       // 14-16: stored already
	f.txn(9, true)       // 17-25: some stored, the rest new
	t5 := f.txn(2, true) // 26-27
	drainDurable(t, r2, t5)

	// Spoke i holds the ids ≡ i mod 3, numbered within each transaction.
	for i := range 3 {
		var want []string
		id := int64(0)
		for _, n := range []int{6, 7, 3, 9, 2} {
			var txn []string
			for range n {
				id++
				if id%3 == int64(i) {
					txn = append(txn, fmt.Sprintf("%d/%d/false", id, len(txn)+1))
				}
			}
			if len(txn) > 0 {
				txn[len(txn)-1] = strings.TrimSuffix(txn[len(txn)-1], "false") + "true"
			}
			want = append(want, txn...)
		}
		scope := fmt.Sprintf("spoke%d", i)
		if got := spokeRows(t, conn, scope); !slices.Equal(got, want) {
			t.Errorf("scope %s reads\n%v\nwant\n%v", scope, got, want)
		}
	}
	// A spoke's target resumes after its checkpoint by position, among
	// the spoke's messages only.
	sub, err := conn.Subscribe(context.Background(), "spoke1", "app", &Resume{Pos: t2.Pos, StreamSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	d, err := sub.Next(context.Background(), 10*time.Second)
	sub.Stop()
	if err != nil || d.Rows[0].Scope.Name != "spoke1" || d.Rows[0].Source.Pos != t3.Pos || string(d.Rows[0].After["id"]) != `"16"` {
		t.Fatalf("spoke1 after %s: %+v, %v; want its row 16 of the transaction at %s", t2.Pos, d, err, t3.Pos)
	}
	if got := spokeRows(t, conn, "all"); len(got) != 27 {
		t.Errorf("scope all reads %d rows, want 27: %v", len(got), got)
	}
}

// TestSpokeKeepsItsStream: a scope that has a stream of its own keeps it
// when it becomes a spoke of a template (as every spoke has after an
// upgrade from syncd versions that gave each scope its stream): its
// targets' checkpoints are sequences of that stream. It resumes after
// what the stream holds, and new spokes go to the template's stream.
func TestSpokeKeepsItsStream(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	own := loadConfig(t, `
source "postgres" "app" { dsn = "postgres://localhost/app" }
scope "spoke1" {
  source   = "app"
  snapshot = "never"
  table "public.orders" { where = "region = 'r1'" }
}`)
	r1 := newRouter(t, conn, own, 4)
	f := spokeFeeder(t, r1, 3)
	f.txn(6, true) // ids 1-6: spoke1 takes 1 and 4
	t2 := f.txn(3, true)
	drainDurable(t, r1, t2)
	r1.Close()

	r2 := newRouter(t, conn, loadConfig(t, spokesConfig(3)), 4)
	if got := r2.pubs["spoke1"].w.stream; got != StreamName("spoke1") {
		t.Fatalf("spoke1 publishes to %s, want its own stream %s", got, StreamName("spoke1"))
	}
	for _, scope := range []string{"spoke0", "spoke2"} {
		if got := r2.pubs[scope].w.stream; got != TemplateStreamName("spoke", "app") {
			t.Fatalf("%s publishes to %s, want %s", scope, got, TemplateStreamName("spoke", "app"))
		}
	}
	f.r, f.pos, f.nextID = r2, 100, 6
	f.txn(3, true) // 7-9: spoke1's 7 is stored already
	t4 := f.txn(3, true)
	drainDurable(t, r2, t4)
	if got, want := syncdStreams(t, conn), []string{"SYNCD_SPOKE1", "SYNCD_SPOKE@APP"}; !slices.Equal(got, want) {
		t.Fatalf("streams %v, want %v", got, want)
	}
	want := []string{"1/1/false", "4/2/true", "7/1/true", "10/1/true"}
	if got := spokeRows(t, conn, "spoke1"); !slices.Equal(got, want) {
		t.Errorf("spoke1 reads %v, want %v", got, want)
	}
	if got, want := spokeRows(t, conn, "spoke0"), []string{"9/1/true", "12/1/true"}; !slices.Equal(got, want) {
		t.Errorf("spoke0 reads %v, want %v (it was not published before the template)", got, want)
	}
	st, err := conn.StreamState(context.Background(), "spoke0")
	if err != nil || st.Stream != TemplateStreamName("spoke", "app") || st.Messages != 2 || st.LastSeq != 4 {
		t.Errorf("StreamState(spoke0) = %+v, %v; want 2 messages of stream %s, the last its fourth", st, err, TemplateStreamName("spoke", "app"))
	}
}

// TestQuietSpokeRetention: retention on the stream the spokes share
// removes the oldest messages whatever their scope; a quiet spoke's target
// whose checkpoint is below the stream's first message resumes unless
// retention removed a message of its own spoke after it
// (HeaderPrevSeq), whether the spoke has a message left or its next one
// decides.
func TestQuietSpokeRetention(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	r := newRouter(t, conn, loadConfig(t, spokesConfig(2)), 100)
	f := spokeFeeder(t, r, 2)
	row := func(id int32) { // one transaction of row id: spoke<id mod 2>
		f.nextID = id - 1
		f.txn(1, true)
	}
	// Spoke1, the quiet one, has messages 1, 4 and 7 (positions 100, 400,
	// 700); spoke0 the others.
	for _, id := range []int32{1, 2, 4, 5, 6, 8, 9, 10, 12, 14, 16} {
		row(id)
	}
	drain(t, r)
	ctx := context.Background()
	js, err := jetstream.New(conn.nc)
	if err != nil {
		t.Fatal(err)
	}
	keep := func(n int64) { // max_msgs: the server removes the oldest at once
		t.Helper()
		s, err := js.Stream(ctx, TemplateStreamName("spoke", "app"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.MaxMsgs = n
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	subscribe := func(from Resume) (*Subscription, error) {
		t.Helper()
		sub, err := conn.Subscribe(ctx, "spoke1", "app", &from)
		if err == nil {
			t.Cleanup(sub.Stop)
		}
		return sub, err
	}
	next := func(sub *Subscription, seq uint64, pos capture.Position) {
		t.Helper()
		d, err := sub.Next(ctx, 10*time.Second)
		if err != nil {
			t.Fatalf("first delivery: %v, want message %d", err, seq)
		}
		if d.StreamSeq != seq || d.Rows[0].Source.Pos != pos {
			t.Fatalf("first delivery: message %d at %s, want message %d at %s", d.StreamSeq, d.Rows[0].Source.Pos, seq, pos)
		}
	}

	// Messages 1 to 6 go: of spoke1's, only 1 and 4.
	keep(5)
	sub, err := subscribe(Resume{Pos: 400, StreamSeq: 4})
	if err != nil {
		t.Fatalf("subscribe after message 4 when only spoke0's messages after it are gone: %v", err)
	}
	next(sub, 7, 700)
	if _, err := subscribe(Resume{Pos: 100, StreamSeq: 1}); !errors.Is(err, ErrCheckpointGone) {
		t.Fatalf("subscribe after message 1 when spoke1's message 4 is gone: %v, want ErrCheckpointGone", err)
	}

	// Messages 7 to 9 go too: spoke1 has none left, so its next message,
	// 12, decides.
	keep(2)
	applied, err := subscribe(Resume{Pos: 700, StreamSeq: 7})
	if err != nil {
		t.Fatalf("subscribe after message 7, spoke1's last: %v", err)
	}
	behind, err := subscribe(Resume{Pos: 400, StreamSeq: 4})
	if err != nil {
		t.Fatalf("subscribe after message 4 with nothing of spoke1 left: %v", err)
	}
	row(17)
	drain(t, r)
	next(applied, 12, 1200)
	if _, err := behind.Next(ctx, 10*time.Second); !errors.Is(err, ErrCheckpointGone) {
		t.Fatalf("first delivery after message 4 when spoke1's message 7 is gone: %v, want ErrCheckpointGone", err)
	}

	// A new router finds nothing of spoke1 left once message 12 went: its
	// next message, 14, says spoke1's last was at most 12, the stream's
	// first less one.
	row(18)
	drain(t, r)
	keep(1)
	r.Close()
	f.r = newRouter(t, conn, loadConfig(t, spokesConfig(2)), 100)
	row(19)
	drain(t, f.r)
	applied, err = subscribe(Resume{Pos: 1200, StreamSeq: 12})
	if err != nil {
		t.Fatalf("subscribe after message 12, spoke1's last, gone: %v", err)
	}
	next(applied, 14, 1400)
	if _, err := subscribe(Resume{Pos: 700, StreamSeq: 7}); !errors.Is(err, ErrCheckpointGone) {
		t.Fatalf("subscribe after message 7 when spoke1's message 12 is gone: %v, want ErrCheckpointGone", err)
	}
}
