package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

func TestRemovedTables(t *testing.T) {
	id := func(name string) capture.TableID { return capture.TableID{Schema: "public", Name: name} }
	scope := func(tables ...[2]string) *scopes.Scope {
		s := &scopes.Scope{Name: "s", Source: "app"}
		for _, tt := range tables {
			s.Tables = append(s.Tables, &scopes.Table{ID: id(tt[0]), Target: id(tt[1])})
		}
		return s
	}
	old := scope([2]string{"a", "a"}, [2]string{"b", "b"}, [2]string{"c", "x"}, [2]string{"d", "x"}, [2]string{"e", "e"})
	for _, tc := range []struct {
		name   string
		cur    *scopes.Scope
		shared []string
		want   []string
	}{
		{name: "nothing removed", cur: old, want: nil},
		{name: "one table removed", cur: scope([2]string{"a", "a"}, [2]string{"c", "x"}, [2]string{"d", "x"}, [2]string{"e", "e"}), want: []string{"b"}},
		{name: "scope removed: each target table once", cur: scope(), want: []string{"a", "b", "x", "e"}},
		{name: "target table still written by the scope", cur: scope([2]string{"a", "a"}, [2]string{"b", "b"}, [2]string{"d", "x"}, [2]string{"e", "e"}), want: nil},
		{name: "target table written by another scope", cur: scope(), shared: []string{"a", "x"}, want: []string{"b", "e"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range RemovedTables(old, tc.cur, func(id capture.TableID) bool { return slices.Contains(tc.shared, id.Name) }) {
				got = append(got, e.Target.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("RemovedTables = %v, want %v", got, tc.want)
			}
		})
	}
}

// fakeTarget records what emptyRemoved asks of a target.
type fakeTarget struct {
	begun   int
	applied []*Change
	commits []checkpoint.Record
}

func (f *fakeTarget) Prepare(context.Context, string, []*router.TableSchema) error { return nil }
func (f *fakeTarget) Checkpoint(context.Context, string, string) (checkpoint.Record, bool, error) {
	return checkpoint.Record{}, false, nil
}
func (f *fakeTarget) Begin(context.Context, bool) (Tx, error) { f.begun++; return fakeTx{f}, nil }
func (f *fakeTarget) Close()                                  {}

type fakeTx struct{ f *fakeTarget }

func (x fakeTx) Apply(_ context.Context, c *Change) error {
	x.f.applied = append(x.f.applied, c)
	return nil
}
func (x fakeTx) Commit(_ context.Context, rec checkpoint.Record) error {
	x.f.commits = append(x.f.commits, rec)
	return nil
}
func (x fakeTx) Rollback(context.Context) error { return nil }

// TestEmptyRemovedOnce: the table that left the scope is emptied by a
// delete (not a truncate) in the transaction that records the new
// definition, and a second start with that record empties nothing.
func TestEmptyRemovedOnce(t *testing.T) {
	a, b := capture.TableID{Schema: "public", Name: "a"}, capture.TableID{Schema: "public", Name: "b"}
	old := &scopes.Scope{Name: "s", Source: "app", Tables: []*scopes.Table{{ID: a, Target: a}, {ID: b, Target: b}}}
	cur := &scopes.Scope{Name: "s", Source: "app", Tables: []*scopes.Table{{ID: a, Target: a}}}
	schemas := map[capture.TableID]*router.TableSchema{a: {Source: a, Target: a}, b: {Source: b, Target: b}}
	cp := checkpoint.Record{Scope: "s", Source: "app", Definition: old.Definition(), ColumnSchema: json.RawMessage(`[]`), Position: 42}
	f := &fakeTarget{}
	ctx := context.Background()
	rec, emptied, err := emptyRemoved(ctx, f, cp, cur, schemas, nil, "test", hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(emptied) != 1 || emptied[0].Target != b || len(f.applied) != 1 || f.applied[0].Table.Target != b ||
		f.applied[0].Op != capture.OpTruncate || !f.applied[0].Resync {
		t.Fatalf("emptied %+v with changes %+v; want public.b emptied by one delete of every row", emptied, f.applied)
	}
	if len(f.commits) != 1 || !bytes.Equal(f.commits[0].Definition, cur.Definition()) || f.commits[0].ColumnSchema != nil || f.commits[0].Position != 42 {
		t.Fatalf("committed %+v; want the new definition at the same position, the column schema left as stored", f.commits)
	}
	if !bytes.Equal(rec.Definition, cur.Definition()) || string(rec.ColumnSchema) != `[]` {
		t.Errorf("returned checkpoint %+v; want the new definition and the stored column schema", rec)
	}
	if _, emptied, err = emptyRemoved(ctx, f, rec, cur, schemas, nil, "test", hclog.NewNullLogger()); err != nil || len(emptied) > 0 || f.begun != 1 {
		t.Errorf("second start: emptied %+v, %d transactions begun, error %v; want nothing more", emptied, f.begun, err)
	}
}
