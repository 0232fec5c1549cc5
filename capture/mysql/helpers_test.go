package mysql

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
	"github.com/syncd-dev/syncd/test/testenv/positions"
)

// recorder is a sink that keeps what it receives and reports every
// committed transaction durable at once. With snaps set it also takes
// snapshots, dropping live changes to a table until its snapshot
// transaction begins, as the router does.
type recorder struct {
	mu        sync.Mutex
	calls     []string // "begin", "change", "commit"
	events    []capture.Event
	txns      []capture.Txn
	durable   capture.Position
	countOnly bool // keep counts, not events
	changes   int
	open      *capture.Txn

	snaps   []capture.SnapshotRequest
	started map[capture.TableID]bool
	done    []string
	// retake is what Resnapshot makes pending, or refuse its error.
	retake []capture.SnapshotRequest
	refuse error
}

func (r *recorder) Begin(_ context.Context, txn *capture.Txn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open != nil {
		return errors.New("begin inside a transaction")
	}
	r.open = txn
	r.calls = append(r.calls, "begin")
	return nil
}

func (r *recorder) Change(_ context.Context, ev *capture.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open == nil || ev.Txn != r.open {
		return errors.New("change outside its transaction")
	}
	if ev.Txn.Snapshot {
		if r.started == nil {
			r.started = map[capture.TableID]bool{}
		}
		r.started[ev.Table.ID()] = true
	} else if r.snapshotted(ev.Table.ID()) && !r.started[ev.Table.ID()] {
		return nil // the snapshot will hold it
	}
	r.changes++
	if r.countOnly {
		return nil
	}
	r.calls = append(r.calls, "change")
	c := *ev
	c.Before, c.After = clone(ev.Before), clone(ev.After)
	r.events = append(r.events, c)
	return nil
}

func (r *recorder) snapshotted(id capture.TableID) bool {
	for _, s := range r.snaps {
		if s.Table == id {
			return true
		}
	}
	return false
}

func clone(r capture.Row) capture.Row {
	if r == nil {
		return nil
	}
	return append(capture.Row(nil), r...)
}

func (r *recorder) Commit(_ context.Context, txn *capture.Txn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open != txn {
		return errors.New("commit of another transaction")
	}
	r.open = nil
	r.calls = append(r.calls, "commit")
	r.txns = append(r.txns, *txn)
	r.durable = txn.Ack
	return nil
}

func (r *recorder) Flush(context.Context) error { return nil }
func (r *recorder) Drain(context.Context) error { return nil }
func (r *recorder) Durable() (capture.Position, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.durable, r.open == nil
}

func (r *recorder) get() ([]capture.Event, []capture.Txn, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]capture.Event(nil), r.events...), append([]capture.Txn(nil), r.txns...), append([]string(nil), r.calls...)
}

// waitSnapshotDone waits until a snapshot is recorded done.
func (r *recorder) waitSnapshotDone(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.done) == 0 {
			return errors.New("snapshot not done")
		}
		return nil
	})
}

// snapshotRecorder is a recorder that takes snapshots.
type snapshotRecorder struct{ *recorder }

func (r snapshotRecorder) Snapshots() []capture.SnapshotRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]capture.SnapshotRequest(nil), r.snaps...)
}

func (r snapshotRecorder) SnapshotDone(_ context.Context, req capture.SnapshotRequest, rows int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, fmt.Sprintf("%s %s %d", req.Scope, req.Table, rows))
	return nil
}

func (r snapshotRecorder) SnapshotProgressed(context.Context, capture.SnapshotRequest, []byte, int64) error {
	return nil
}

func (r snapshotRecorder) Resnapshot(_ context.Context, lost error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "resnapshot")
	if r.refuse != nil {
		return r.refuse
	}
	r.snaps, r.started = append([]capture.SnapshotRequest(nil), r.retake...), nil
	return nil
}

// newStore returns a position store on a NATS server of the test's own.
func newStore(t *testing.T) *router.Positions { return positions.Start(t) }

func tables(db string, names ...string) []capture.TableSpec {
	var out []capture.TableSpec
	for _, n := range names {
		out = append(out, capture.TableSpec{ID: capture.TableID{Schema: db, Name: n}, Scopes: []string{"s"}})
	}
	return out
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Info, Output: testWriter{t}})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

// running is a Source running in the background.
type running struct {
	src    *Source
	cancel context.CancelFunc
	done   chan error
}

// start prepares and runs a source on sink.
func start(t *testing.T, cfg Config, sink capture.Sink) *running {
	t.Helper()
	return startLogged(t, cfg, sink, testLogger(t))
}

// startLogged is start with the source logging to log.
func startLogged(t *testing.T, cfg Config, sink capture.Sink, log hclog.Logger) *running {
	t.Helper()
	if cfg.ServerID == 0 {
		cfg.ServerID = 4001
	}
	if cfg.Name == "" {
		cfg.Name = "shop"
	}
	src, err := New(cfg, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := src.Prepare(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{src: src, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx, sink) }()
	testenv.Eventually(t, 30*time.Second, 10*time.Millisecond, func() error {
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("run ended: %w", err) // fails fast below
		default:
		}
		if !src.Status().Connected {
			return errors.New("not connected yet")
		}
		return nil
	})
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and checks it returned context.Canceled.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v after cancel, want context.Canceled", err)
	}
}
