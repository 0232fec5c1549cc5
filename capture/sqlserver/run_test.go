package sqlserver

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, time.Millisecond, func() error {
		if !cond() {
			return fmt.Errorf("waiting for %s", what)
		}
		return nil
	})
}

// TestRunPollsBacksOffAndSavesOnStop: Run streams changes as they come,
// one version per poll here (MaxVersions), doubles its wait while idle up
// to MaxPollInterval, also after catching up, and on cancel returns
// ctx's error with the durable version saved.
func TestRunPollsBacksOffAndSavesOnStop(t *testing.T) {
	a := modelTableOf("a", "x")
	m := newModel(a)
	m.upsert(a, capture.Row{int64(1), int64(1)}, nil, nil)
	store := &memStore{}
	rep := newReplica(t, true, a)
	src, err := New(Config{Name: "mssql", Store: store, PollInterval: time.Millisecond, MaxPollInterval: 8 * time.Millisecond, MaxVersions: 1}, m, []*Table{a}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rep) }()

	eventually(t, "the snapshot", func() bool { return rep.diff(m) == "" })
	m.upsert(a, capture.Row{int64(2), int64(2)}, nil, nil)
	m.upsert(a, capture.Row{int64(1), int64(3)}, []int{1}, nil)
	m.delete(a, 2)
	eventually(t, "the changes", func() bool { return rep.diff(m) == "" })
	eventually(t, "the idle back-off", func() bool { return src.Status().PollInterval == 8*time.Millisecond })

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	b, _ := store.Load(context.Background(), "mssql")
	if c, ok, _ := decodeState(b); !ok || !c.Exact || c.Version != m.version {
		t.Fatalf("saved %s, want version %d, exact", b, m.version)
	}
}

// adder is a replica that adds snapshots while the source runs, as the
// router does for `syncd resync` (capture.SnapshotAdder).
type adder struct {
	*replica
	added chan struct{}
}

func (a *adder) SnapshotsAdded() <-chan struct{}           { return a.added }
func (a *adder) AddedSnapshots() []capture.SnapshotRequest { return a.Snapshots() }

// TestRunWakesOnAddedSnapshots: a snapshot the sink adds while the
// source waits out a long poll interval is taken at once, not at the
// next poll: the copy repairs a replica edited by hand.
func TestRunWakesOnAddedSnapshots(t *testing.T) {
	a := modelTableOf("a", "x")
	m := newModel(a)
	m.upsert(a, capture.Row{int64(1), int64(1)}, nil, nil)
	m.upsert(a, capture.Row{int64(2), int64(2)}, nil, nil)
	rep := &adder{replica: newReplica(t, true, a), added: make(chan struct{}, 1)}
	src, err := New(Config{Name: "mssql", Store: &memStore{}, PollInterval: time.Hour}, m, []*Table{a}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rep) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	}()
	eventually(t, "the snapshot", func() bool { return rep.diff(m) == "" })

	rep.mu.Lock()
	delete(rep.rows[a.ID()], int64(1))
	rep.rows[a.ID()][int64(2)] = capture.Row{int64(2), int64(20)}
	rep.pending[a.ID()] = true
	rep.mu.Unlock()
	rep.added <- struct{}{}
	eventually(t, "the added snapshot", func() bool { return rep.diff(m) == "" })
}

// TestWindowHidesDelete: a row deleted and inserted again on both sides
// of a poll cut short by MaxVersions is an I relative to the next poll's
// checkpoint, though the targets still hold the old row; the source
// passes it as an update with no old image, so that a filtered scope the
// new row leaves deletes it (found by TestModelSourceToPostgresAndMariaDB).
func TestWindowHidesDelete(t *testing.T) {
	ctx := context.Background()
	a := modelTableOf("a", "x")
	m := newModel(a)
	m.upsert(a, capture.Row{int64(1), int64(1)}, nil, nil) // v1
	rep := newReplica(t, true, a)
	rep.keep = true
	_, ss := newTestSession(t, Config{Store: &memStore{}, MaxVersions: 2}, m, rep, a)
	if _, _, err := ss.poll(ctx); err != nil { // the snapshot at v1
		t.Fatal(err)
	}
	m.upsert(a, capture.Row{int64(2), int64(2)}, nil, nil) // v2
	m.delete(a, 1)                                         // v3
	m.upsert(a, capture.Row{int64(1), int64(9)}, nil, nil) // v4
	for behind := true; behind; {
		var err error
		if _, behind, err = ss.poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	last := rep.changes[len(rep.changes)-1]
	if last.Op != capture.OpUpdate || last.Before != nil || last.After[0] != int64(1) {
		t.Fatalf("last change %s %v → %v, want an update of row 1 with no old image", last.Op, last.Before, last.After)
	}
}
