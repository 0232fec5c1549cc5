package sqlserver

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

// TestModelSnapshotPlusChangesEqualsSource drives random inserts, updates
// (with and without column masks), deletes, truncates and retention
// cleanups into the change tracking model, polls at random cuts, and
// restarts the source from its saved checkpoint at random: after every
// poll the replica (snapshot + replayed changes) must equal the model's
// tables. The replica may lag in reporting changes durable, and lose those
// not reported on a restart. A cleanup or truncate past the checkpoint makes the source copy
// the tables again (Resnapshot).
func TestModelSnapshotPlusChangesEqualsSource(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(0); seed < 300; seed++ {
		rnd := rand.New(rand.NewPCG(seed, 19))
		a, b := modelTableOf("a", "x", "y"), modelTableOf("b", "x")
		tables := []*Table{a, b}
		m := newModel(tables...)
		// Some rows before the source first runs: the snapshot has them.
		for range rnd.IntN(5) {
			m.upsert(a, capture.Row{rnd.Int64N(8), rnd.Int64N(3), rnd.Int64N(3)}, nil, nil)
		}
		rep := newReplica(t, true, tables...)
		rep.lag = rnd.IntN(3)
		src, ss := newTestSession(t, Config{Store: &memStore{}, Resnapshot: true, ChunkRows: 1 + rnd.IntN(3), MaxVersions: 1 + rnd.Int64N(6)}, m, rep, tables...)
		var err error
		for step := 0; step < 80; step++ {
			tb := tables[rnd.IntN(len(tables))]
			id := rnd.Int64N(8)
			switch k := rnd.IntN(100); {
			case k < 35:
				row := capture.Row{id}
				for range tb.Columns[1:] {
					row = append(row, rnd.Int64N(3))
				}
				m.upsert(tb, row, updated(m, tb, row), nil)
			case k < 50:
				m.delete(tb, id)
			case k < 52:
				m.truncate(tb)
			case k < 55:
				m.cleanup(rnd.Int64N(m.version + 1))
			case k < 60:
				rep.crash()
				if ss, err = src.newSession(ctx, rep); err != nil {
					t.Fatal(err)
				}
			default:
				// Polls of at most MaxVersions versions each, until caught
				// up or, at random, cut short (a restart may follow).
				behind := true
				for behind {
					if _, behind, err = ss.poll(ctx); err != nil {
						t.Fatalf("seed %d step %d: poll: %v", seed, step, err)
					}
					if err := ss.save(ctx); err != nil {
						t.Fatal(err)
					}
					if rnd.IntN(4) == 0 {
						break
					}
				}
				if behind {
					continue
				}
				if d := rep.diff(m); d != "" {
					t.Fatalf("seed %d step %d: after a poll at version %d: %s", seed, step, m.version, d)
				}
			}
		}
	}
}

// updated returns the columns row changes of its table's current row in
// the model, or nil (a NULL mask) at random when the row exists, or
// when it does not (an insert).
func updated(m *ctModel, t *Table, row capture.Row) []int {
	old, ok := m.table(t).rows[row[0].(int64)]
	if !ok || row[1].(int64) == 2 {
		return nil
	}
	var cols []int
	for i := 1; i < len(row); i++ {
		if old[i] != row[i] {
			cols = append(cols, i)
		}
	}
	return cols
}

// TestModelCheckpointBelowMinValid: a checkpoint below a table's minimum
// valid version, after a cleanup or a truncate, stops the source with a
// *LostError naming the table and both versions when the scopes do not
// allow a new copy, and the checkpoint stays where it was.
func TestModelCheckpointBelowMinValid(t *testing.T) {
	for _, tt := range []struct {
		name string
		lose func(m *ctModel, a *Table)
		min  int64
	}{
		{"cleanup", func(m *ctModel, _ *Table) { m.cleanup(2) }, 2},
		{"truncate", func(m *ctModel, a *Table) { m.truncate(a) }, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a := modelTableOf("a", "x")
			m := newModel(a)
			store := storeAt(1)
			saved, _ := store.Load(ctx, "mssql")
			m.upsert(a, capture.Row{int64(1), int64(1)}, nil, nil)
			m.upsert(a, capture.Row{int64(2), int64(1)}, nil, nil)
			tt.lose(m, a)
			rep := newReplica(t, false, a)
			rep.refuse = errors.New("scope s has snapshot = \"never\"")
			_, ss := newTestSession(t, Config{Store: store, Resnapshot: true}, m, rep, a)
			_, _, err := ss.poll(ctx)
			var lost *LostError
			if !errors.As(err, &lost) || lost.Table != a.ID() || lost.Checkpoint != 1 || lost.MinValid != tt.min {
				t.Fatalf("poll: %v, want a LostError for %s at 1 below %d", err, a.ID(), tt.min)
			}
			if b, _ := store.Load(ctx, "mssql"); string(b) != string(saved) {
				t.Fatalf("checkpoint %s, want %s kept", b, saved)
			}
		})
	}
}

// TestModelVersionZeroCheckpoint: a saved version 0 is a checkpoint, not
// "none": the source streams every change after it instead of starting
// from the current version.
func TestModelVersionZeroCheckpoint(t *testing.T) {
	ctx := context.Background()
	a := modelTableOf("a", "x")
	m := newModel(a)
	store := storeAt(0)
	m.upsert(a, capture.Row{int64(1), int64(5)}, nil, nil)
	m.upsert(a, capture.Row{int64(1), int64(6)}, []int{1}, nil)
	m.upsert(a, capture.Row{int64(2), int64(7)}, nil, nil)
	rep := newReplica(t, false, a)
	rep.keep = true
	_, ss := newTestSession(t, Config{Store: store}, m, rep, a)
	if _, _, err := ss.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if d := rep.diff(m); d != "" {
		t.Fatal(d)
	}
	// Net changes since 0: row 1 inserted (at version 2, its last change),
	// row 2 inserted at 3; one pseudo-transaction per version.
	if len(rep.changes) != 2 || rep.changes[0].Txn.Pos != versionPos(2) || rep.changes[1].Txn.Pos != versionPos(3) || rep.txns != 2 {
		t.Fatalf("got %d changes in %d transactions: %+v", len(rep.changes), rep.txns, rep.changes)
	}
	ss.save(ctx)
	b, _ := store.Load(ctx, "mssql")
	if c, _, _ := decodeState(b); c.Version != 3 || !c.Exact {
		t.Fatalf("checkpoint %s, want version 3", b)
	}
}

// TestModelTrackingOff: a NULL CHANGE_TRACKING_CURRENT_VERSION() stops the
// source with ErrTrackingOff, with or without a checkpoint.
func TestModelTrackingOff(t *testing.T) {
	ctx := context.Background()
	for _, saved := range []bool{false, true} {
		a := modelTableOf("a", "x")
		m := newModel(a)
		m.tracked = false
		store := &memStore{}
		if saved {
			store = storeAt(0)
		}
		_, ss := newTestSession(t, Config{Store: store}, m, newReplica(t, false, a), a)
		if _, _, err := ss.poll(ctx); !errors.Is(err, ErrTrackingOff) {
			t.Fatalf("saved %v: poll: %v, want ErrTrackingOff", saved, err)
		}
	}
}

// TestModelWindowedCheckpointIsNotExact: a poll cut short by MaxVersions
// leaves out a row whose net change is past its window, older changes
// included. Its checkpoint is saved as not exact, so that after a restart
// the column masks, relative to it, are not trusted as the row's old
// image: the replica lacks the older change.
func TestModelWindowedCheckpointIsNotExact(t *testing.T) {
	ctx := context.Background()
	a := modelTableOf("a", "x", "y")
	m := newModel(a)
	store := storeAt(0)
	m.upsert(a, capture.Row{int64(1), int64(0), int64(0)}, nil, nil) // v1
	rep := newReplica(t, false, a)
	_, ss := newTestSession(t, Config{Store: store, MaxVersions: 2}, m, rep, a)
	if _, behind, err := ss.poll(ctx); err != nil || behind {
		t.Fatalf("poll: behind %v, %v", behind, err)
	}
	m.upsert(a, capture.Row{int64(1), int64(0), int64(5)}, []int{2}, nil) // v2: y
	m.upsert(a, capture.Row{int64(2), int64(0), int64(0)}, nil, nil)      // v3
	m.upsert(a, capture.Row{int64(1), int64(7), int64(5)}, []int{1}, nil) // v4: x
	// Versions 2 and 3: row 2 only, row 1's net change is at 4.
	if _, behind, err := ss.poll(ctx); err != nil || !behind {
		t.Fatalf("poll: behind %v, %v; want behind", behind, err)
	}
	ss.save(ctx)
	b, _ := store.Load(ctx, "mssql")
	if c, _, _ := decodeState(b); c.Version != 3 || c.Exact {
		t.Fatalf("checkpoint %s, want version 3, not exact", b)
	}
	rep.keep = true
	_, ss = newTestSession(t, Config{Store: store, MaxVersions: 2}, m, rep, a)
	if _, _, err := ss.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if d := rep.diff(m); d != "" {
		t.Fatal(d)
	}
	if len(rep.changes) != 1 || rep.changes[0].Before != nil {
		t.Fatalf("changes %+v, want row 1's update without an old image", rep.changes)
	}
}
