package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// heldSnapshot is a recorder that asks for one table's snapshot and holds
// its copy after hold rows until release is closed.
type heldSnapshot struct {
	*recorder
	req     capture.SnapshotRequest
	hold    int
	release chan struct{}

	mu    sync.Mutex
	reads int
	done  int64 // rows SnapshotDone recorded; -1 until then
}

func (h *heldSnapshot) Change(ctx context.Context, ev *capture.Event) error {
	if ev.Op == capture.OpRead {
		h.mu.Lock()
		h.reads++
		n := h.reads
		h.mu.Unlock()
		if n == h.hold+1 {
			select {
			case <-h.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return h.recorder.Change(ctx, ev)
}

func (h *heldSnapshot) Snapshots() []capture.SnapshotRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done >= 0 {
		return nil
	}
	return []capture.SnapshotRequest{h.req}
}

func (h *heldSnapshot) SnapshotDone(_ context.Context, _ capture.SnapshotRequest, rows int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done = rows
	return nil
}

func (h *heldSnapshot) SnapshotProgressed(context.Context, capture.SnapshotRequest, []byte, int64) error {
	return nil
}

func (h *heldSnapshot) Resnapshot(context.Context, error) error {
	return errors.New("not in this test")
}

// TestSnapshotProgress: while a table's initial snapshot is copied, the
// source's status (which /scopes shows) and its log (every 1,000 rows
// once the copy has run 5 seconds) report the rows done, the planner's
// estimate and the percent; once the copy is done the status no longer
// shows it.
func TestSnapshotProgress(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", `CREATE TABLE item (id int PRIMARY KEY, v text)`,
		`INSERT INTO item SELECT g, md5(g::text) FROM generate_series(1, 4000) g`,
		`ANALYZE item`)
	item := capture.TableID{Schema: "public", Name: "item"}
	var logs testenv.LogBuffer
	src, err := New(Config{Name: "app", DSN: dsn, Slot: "s", Publication: "p", Tables: []capture.TableSpec{{ID: item}}, ChunkRows: 1000},
		Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink := &heldSnapshot{recorder: &recorder{}, req: capture.SnapshotRequest{Scope: "items", Table: item, Truncate: true}, hold: 2000, release: make(chan struct{}), done: -1}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- src.Run(ctx, sink) }()
	defer func() {
		cancel()
		<-ran
	}()

	// Held after 2,000 of 4,000 rows: progress is reported every 1,000.
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		p := src.Status().Snapshot
		if p == nil || p.Rows != 2000 {
			return fmt.Errorf("snapshot progress %+v, want 2000 rows", p)
		}
		return nil
	})
	p := src.Status().Snapshot
	if p.Scope != "items" || p.Table != "public.item" || p.Estimate != 4000 || p.Percent != 50 || p.Started.IsZero() {
		t.Errorf("snapshot progress %+v, want scope items, table public.item, 4000 estimated rows, 50 percent", p)
	}
	// The log reports progress every 1,000 rows once the copy has run
	// for 5 seconds: hold it that long, so the next report is at 3,000.
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if d := time.Since(p.Started); d < 5100*time.Millisecond {
			return fmt.Errorf("the copy has run for %v", d)
		}
		return nil
	})
	close(sink.release)
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if sink.done != 4000 {
			return fmt.Errorf("snapshot done with %d rows, want 4000", sink.done)
		}
		return nil
	})
	l := logs.String()
	progress := regexp.MustCompile(`snapshot progress: .*scope=items table=public\.item rows=3000 estimated_rows=4000 percent=75\.0`)
	if !progress.MatchString(l) || !regexp.MustCompile(`snapshot done: .*rows=4000`).MatchString(l) {
		t.Errorf("the log lacks the copy's progress at 3000 rows or its end:\n%s", l)
	}
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		if st := src.Status(); st.Snapshot != nil || st.SnapshotsPending != 0 {
			return fmt.Errorf("after the copy: snapshot %+v, %d pending; want none", st.Snapshot, st.SnapshotsPending)
		}
		return nil
	})
}
