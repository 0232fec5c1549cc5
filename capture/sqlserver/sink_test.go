package sqlserver

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

// replica is a sink that applies what it receives to in-memory tables,
// one scope ("s") covering every table, as a target would. It reports
// every committed transaction durable at once, or with lag set, all but
// the last lag until a Drain; crash then loses those not reported. It
// takes snapshots, and
// drops live changes to a table until its snapshot transaction begins, as
// the router does. It fails the test on a change out of version order or
// an update whose unchanged columns (Before) differ from the replica's.
type replica struct {
	t       *testing.T
	mu      sync.Mutex
	rows    map[capture.TableID]map[any]capture.Row
	pending map[capture.TableID]bool
	tables  []capture.TableID
	last    capture.Position // the last committed transaction's Ack
	txns    int
	lag     int
	log     []loggedTxn     // committed transactions, each with the state before it
	durable int             // log index of the last transaction reported durable
	changes []capture.Event // every change event, when keep is set
	keep    bool
	refuse  error // what Resnapshot returns
	open    *capture.Txn
}

func newReplica(t *testing.T, snapshot bool, tables ...*Table) *replica {
	r := &replica{t: t, rows: map[capture.TableID]map[any]capture.Row{}, pending: map[capture.TableID]bool{}}
	for _, tb := range tables {
		r.tables = append(r.tables, tb.ID())
		r.rows[tb.ID()] = map[any]capture.Row{}
		r.pending[tb.ID()] = snapshot
	}
	r.durable = -1
	return r
}

// loggedTxn is a committed transaction and the replica's state before it.
type loggedTxn struct {
	ack     capture.Position
	rows    map[capture.TableID]map[any]capture.Row
	pending map[capture.TableID]bool
}

// crash loses the transactions not reported durable, as a target whose
// writes were not acknowledged may.
func (r *replica) crash() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if lost := r.durable + 1; lost < len(r.log) {
		r.rows, r.pending = r.log[lost].rows, r.log[lost].pending
		r.log = r.log[:lost]
	}
	r.last = 0
	if r.durable >= 0 {
		r.last = r.log[r.durable].ack
	}
}

func (r *replica) Begin(_ context.Context, txn *capture.Txn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open != nil {
		r.t.Errorf("begin %s inside %s", txn.ID, r.open.ID)
	}
	if txn.Ack < r.last {
		r.t.Errorf("transaction %s at %s after %s", txn.ID, txn.Ack, r.last)
	}
	r.open = txn
	before := loggedTxn{ack: txn.Ack, rows: map[capture.TableID]map[any]capture.Row{}, pending: maps.Clone(r.pending)}
	for id, rows := range r.rows {
		before.rows[id] = maps.Clone(rows)
	}
	r.log = append(r.log, before)
	return nil
}

func (r *replica) Change(_ context.Context, ev *capture.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := ev.Table.ID()
	if ev.Txn.Snapshot && ev.Op == capture.OpTruncate {
		r.pending[id] = false
	}
	if r.pending[id] {
		return nil
	}
	if r.keep {
		c := *ev
		r.changes = append(r.changes, c)
	}
	rows := r.rows[id]
	switch ev.Op {
	case capture.OpTruncate:
		clear(rows)
	case capture.OpInsert, capture.OpRead:
		rows[ev.After[0]] = ev.After
	case capture.OpUpdate:
		if old, ok := rows[ev.After[0]]; ok && ev.Before != nil {
			for i, v := range ev.Before {
				if v != capture.Absent && !reflect.DeepEqual(v, old[i]) {
					r.t.Errorf("update of %s %v: Before[%d] = %v, the replica has %v", id, ev.After[0], i, v, old[i])
				}
			}
		}
		rows[ev.After[0]] = ev.After
	case capture.OpDelete:
		for i, v := range ev.Before[1:] {
			if v != capture.Absent {
				r.t.Errorf("delete of %s %v: column %d is %v, want Absent", id, ev.Before[0], i+1, v)
			}
		}
		delete(rows, ev.Before[0])
	}
	return nil
}

func (r *replica) Commit(_ context.Context, txn *capture.Txn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open = nil
	r.last = txn.Ack
	r.txns++
	return nil
}

func (r *replica) Flush(context.Context) error { return nil }
func (r *replica) Drain(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.durable = len(r.log) - 1
	return nil
}

func (r *replica) Durable() (capture.Position, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.durable = max(r.durable, len(r.log)-1-r.lag)
	if r.durable < 0 {
		return 0, len(r.log) == 0
	}
	return r.log[r.durable].ack, r.durable == len(r.log)-1
}

func (r *replica) Snapshots() []capture.SnapshotRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []capture.SnapshotRequest
	for _, id := range r.tables {
		if r.pending[id] {
			out = append(out, capture.SnapshotRequest{Scope: "s", Table: id, Truncate: true})
		}
	}
	return out
}

func (r *replica) SnapshotDone(context.Context, capture.SnapshotRequest, int64) error { return nil }

func (r *replica) SnapshotProgressed(context.Context, capture.SnapshotRequest, []byte, int64) error {
	return nil
}

func (r *replica) Resnapshot(_ context.Context, lost error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return r.refuse
	}
	for _, id := range r.tables {
		r.pending[id] = true
	}
	return nil
}

// diff reports how the replica differs from the model's tables, if it does.
func (r *replica) diff(m *ctModel) string {
	want := map[capture.TableID]map[any]capture.Row{}
	for id, mt := range m.tables {
		want[id] = map[any]capture.Row{}
		for k, row := range mt.rows {
			want[id][k] = row
		}
	}
	return r.diffRows(want)
}

// diffRows reports how the replica differs from want, if it does.
func (r *replica) diffRows(want map[capture.TableID]map[any]capture.Row) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.tables {
		got := r.rows[id]
		if len(got) != len(want[id]) {
			return fmt.Sprintf("%s: %d rows, the source has %d", id, len(got), len(want[id]))
		}
		for k, w := range want[id] {
			if g := got[k]; !reflect.DeepEqual(g, w) {
				return fmt.Sprintf("%s row %v: %v, the source has %v", id, k, g, w)
			}
		}
	}
	return ""
}

// memStore is a capture.Store in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Load(_ context.Context, source string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[source], nil
}

func (s *memStore) Save(_ context.Context, source string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[source] = b
	return nil
}

// storeAt returns a store holding source "mssql"'s exact checkpoint at
// version v.
func storeAt(v int64) *memStore {
	b, _ := encodeState(checkpoint{Version: v, Exact: true})
	return &memStore{m: map[string][]byte{"mssql": b}}
}

// newTestSession makes a Source "mssql" reading through tr and a session of
// it passing changes to rep.
func newTestSession(t *testing.T, cfg Config, tr Tracker, rep *replica, tables ...*Table) (*Source, *session) {
	t.Helper()
	cfg.Name = "mssql"
	src, err := New(cfg, tr, tables, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := src.newSession(context.Background(), rep)
	if err != nil {
		t.Fatal(err)
	}
	return src, ss
}
