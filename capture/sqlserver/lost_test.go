package sqlserver

import (
	"context"
	"slices"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

// copier is a replica that copies again, for targets "t1" and "t2" one
// after the other, the tables whose changes alone are lost, as the
// router does (capture.TableCopier): live changes flow meanwhile, and
// each copy replaces the table's rows.
type copier struct {
	*replica
	asked [][]capture.TableID
	again map[capture.TableID][]string // targets still to copy to
}

var _ capture.TableCopier = (*copier)(nil)

func (c *copier) CopyAgain(_ context.Context, tables []capture.TableID, _ error) error {
	c.asked = append(c.asked, tables)
	for _, id := range tables {
		if c.again[id] == nil {
			c.again[id] = []string{"t1", "t2"}
		}
	}
	return nil
}

func (c *copier) Snapshots() []capture.SnapshotRequest {
	out := c.replica.Snapshots()
	for _, id := range c.replica.tables {
		if ts := c.again[id]; len(ts) > 0 {
			out = append(out, capture.SnapshotRequest{Scope: "s", Table: id, Truncate: true, Target: ts[0]})
		}
	}
	return out
}

func (c *copier) SnapshotDone(_ context.Context, req capture.SnapshotRequest, _ int64) error {
	if req.Target != "" {
		c.again[req.Table] = c.again[req.Table][1:]
	}
	return nil
}

// TestModelLostTableCopiedAlone: after a TRUNCATE of table a (its
// minimum valid version passes the checkpoint), the source asks the
// sink to copy a alone again; b's changes since the checkpoint stream
// on and b is not read again; a's copies, one per target and poll,
// replace its rows (the row deleted in the lost window goes), end their
// copies, and each gets a position of its own after the version's
// changes, numbered on across polls and a restart (state.Copies).
func TestModelLostTableCopiedAlone(t *testing.T) {
	ctx := context.Background()
	a, b := modelTableOf("a", "x"), modelTableOf("b", "x")
	m := newModel(a, b)
	m.upsert(a, capture.Row{int64(1), int64(1)}, nil, nil)
	m.upsert(a, capture.Row{int64(2), int64(1)}, nil, nil)
	m.upsert(b, capture.Row{int64(1), int64(1)}, nil, nil)
	rep := &copier{replica: newReplica(t, true, a, b), again: map[capture.TableID][]string{}}
	store := &memStore{}
	_, ss := newTestSession(t, Config{Store: store}, m, rep.replica, a, b)
	ss.sink = rep
	if _, _, err := ss.poll(ctx); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ss.save(ctx))

	// The lost window: a truncated, a row written again; b changed.
	m.truncate(a)
	m.upsert(a, capture.Row{int64(3), int64(3)}, nil, nil)
	m.upsert(b, capture.Row{int64(2), int64(2)}, nil, nil)
	rep.keep = true
	if _, _, err := ss.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rep.asked) != 1 || !slices.Equal(rep.asked[0], []capture.TableID{a.ID()}) {
		t.Fatalf("CopyAgain asked for %v, want [a] once", rep.asked)
	}
	if d := rep.diff(m); d != "" {
		t.Fatal(d)
	}
	cur := m.version
	var copies []capture.Position
	check := func(want int) {
		t.Helper()
		for _, ev := range rep.changes {
			switch {
			case ev.Table.ID() == b.ID() && ev.Txn.Snapshot:
				t.Fatalf("b copied again: %+v", ev)
			case ev.Txn.Snapshot && (len(copies) == 0 || copies[len(copies)-1] != ev.Txn.Pos):
				if !ev.Txn.CopyEnd {
					t.Errorf("copy at %s does not end the copy", ev.Txn.Pos)
				}
				copies = append(copies, ev.Txn.Pos)
			}
		}
		rep.changes = nil
		wantPos := make([]capture.Position, want)
		for i := range wantPos {
			wantPos[i] = versionPos(cur) + capture.Position(i+1)
		}
		if !slices.Equal(copies, wantPos) {
			t.Fatalf("copies at %v, want %v: after version %d's changes, each at a position of its own", copies, wantPos, cur)
		}
	}
	check(1)
	must(ss.save(ctx))

	// A restart at the same version: the second target's copy goes after
	// the first, not at its position.
	_, ss = newTestSession(t, Config{Store: store}, m, rep.replica, a, b)
	ss.sink = rep
	if _, _, err := ss.poll(ctx); err != nil {
		t.Fatal(err)
	}
	check(2)
	if d := rep.diff(m); d != "" {
		t.Fatal(d)
	}
	if len(rep.again[a.ID()]) != 0 {
		t.Fatalf("copies left for %v", rep.again[a.ID()])
	}
}
