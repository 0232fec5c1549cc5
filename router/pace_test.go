package router

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestPaceGivesStreamingPriority checks what a backfill's next chunk waits
// for: the targets may lag paceSlack messages behind while the scope does
// not stream, and must have applied everything for
// capture.StreamingWindow after a streaming transaction was sent, so that
// a change waits behind one chunk at most, also when it comes a few
// chunks after the last one.
func TestPaceGivesStreamingPriority(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	var waited []uint64
	r, err := New(context.Background(), conn, testConfig(t), SourceInfo{Kind: "postgres", Name: "app", DB: "app"},
		Options{BatchSize: 1, Logger: hclog.NewNullLogger(), AckTimeout: 10 * time.Second,
			Pace: func(_ context.Context, scope string, seq uint64) error {
				if scope != "s" {
					t.Errorf("paced scope %q, want s", scope)
				}
				waited = append(waited, seq)
				return nil
			}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	now := time.Now()
	r.now = func() time.Time { return now }
	ctx := context.Background()
	req := capture.SnapshotRequest{Scope: "s", Table: productTable.ID()}
	f := &feeder{t: t, r: r}
	snapshot := func() {
		t.Helper()
		f.pos += 100
		txn := &capture.Txn{ID: "snapshot", Pos: f.pos, Ack: f.pos, Snapshot: true, CommitTime: time.Now()}
		must(t, r.Begin(ctx, txn))
		f.nextID++
		must(t, r.Change(ctx, &capture.Event{Txn: txn, Table: productTable, Op: capture.OpRead, After: capture.Row{f.nextID, "n", capture.Decimal("1"), nil}, Scope: "s"}))
		must(t, r.Commit(ctx, txn))
		drain(t, r)
	}
	for range paceSlack + 5 {
		snapshot()
	}
	must(t, r.Pace(ctx, req)) // only snapshots: the slack
	f.txn(1, true)            // a streaming transaction
	drain(t, r)
	must(t, r.Pace(ctx, req)) // everything
	snapshot()
	now = now.Add(capture.StreamingWindow - time.Millisecond)
	must(t, r.Pace(ctx, req)) // nothing streamed since the last chunk, but within the window: everything
	now = now.Add(time.Millisecond)
	snapshot()
	must(t, r.Pace(ctx, req)) // the window is over: the slack again
	want := []uint64{5, paceSlack + 6, paceSlack + 7, 8}
	if len(waited) != len(want) {
		t.Fatalf("Pace waited for %v, want %v", waited, want)
	}
	for i := range want {
		if waited[i] != want[i] {
			t.Fatalf("Pace waited for %v, want %v", waited, want)
		}
	}
}
