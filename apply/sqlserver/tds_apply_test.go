package sqlserver

// Layer 3 for the target's writes: the real Target, through go-mssqldb,
// against the TDS wire fake's Store (test/tdsfake/store.go), which holds
// rows and applies syncd's statement shapes by parameter number. What it
// proves: the target's connect, catalog lookups, scope_info creation,
// batched upserts, updates of part of a row, key changes, deletes, the
// WITH CHANGE_TRACKING_CONTEXT tag, transactions (commit and rollback)
// and the checkpoint's write and read (DATETIME2, FLOAT, DECIMAL as text)
// go over TDS as RPCs whose parameters carry the right values, and come
// back through the driver as the target expects. What it does NOT prove:
// that SQL Server parses these statements or does what they say (the
// Store recognises their shapes; it is not a SQL engine), locking,
// collations, types: that is layer 4 (realserver_test.go, never run).

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/tdsfake"
)

// TestApplyOverTDS: transactions of inserts, updates, a key change and
// deletes reach the fake's rows, each row change tagged with the
// target's origin; a rolled back transaction leaves nothing; the
// checkpoint written with the rows reads back.
func TestApplyOverTDS(t *testing.T) {
	ctx := applytest.Context(t)
	f, st := itemsStore(t)
	origin := capture.SyncdOrigin("app", "s", "erp")
	tg, err := New(Config{Name: "erp", DSN: f.DSN(), SyncdVersion: "test", Origin: origin}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Prepare(ctx, "s", []*router.TableSchema{items}); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	ins, upd, del := capture.OpInsert, capture.OpUpdate, capture.OpDelete
	if err := applytest.Run(ctx, tg, false, applytest.Record(1),
		applytest.Change(items, ins, applytest.Key(1), "", `{"id":1,"name":"one","note":"big note","qty":10}`),
		applytest.Change(items, ins, applytest.Key(2), "", `{"id":2,"name":"two","note":null,"qty":20}`),
		applytest.Change(items, ins, applytest.Key(3), "", `{"id":3,"name":"thr]ee","note":"","qty":30}`),
	); err != nil {
		t.Fatalf("first transaction: %v", err)
	}
	want := []string{"id=1 name=one note=big note qty=10", "id=2 name=two note=NULL qty=20", "id=3 name=thr]ee note= qty=30"}
	if got := st.Rows("[items]"); !slices.Equal(got, want) {
		t.Fatalf("after the inserts: %q, want %q", got, want)
	}

	if err := applytest.Run(ctx, tg, false, applytest.Record(2),
		applytest.Change(items, upd, applytest.Key(2), "", `{"id":2,"qty":21}`, "name", "note"),
		applytest.Change(items, upd, applytest.Key(4), applytest.Key(1), `{"id":4,"name":"four","qty":40}`, "note"),
		applytest.Change(items, del, applytest.Key(3), applytest.Key(3), ""),
	); err != nil {
		t.Fatalf("second transaction: %v", err)
	}
	want = []string{"id=2 name=two note=NULL qty=21", "id=4 name=four note=big note qty=40"}
	if got := st.Rows("[items]"); !slices.Equal(got, want) {
		t.Fatalf("after updates and a delete: %q, want %q", got, want)
	}

	// Rolled back: nothing of it stays, nor its checkpoint. Isolated
	// changes are sent at once, so the delete reaches the fake first.
	tx, err := tg.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, applytest.Change(items, del, applytest.Key(2), applytest.Key(2), "")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := st.Rows("[items]"); !slices.Equal(got, want) {
		t.Fatalf("after a rollback: %q, want %q", got, want)
	}

	changes := st.Contexts("[items]")
	wantOps := []string{"I 1", "I 2", "I 3", "U 2", "U 4", "U 4", "D 3"} // a key change: the row moved, then upserted
	if len(changes) != len(wantOps) {
		t.Errorf("row changes %q, want %q, each tagged", changes, wantOps)
	}
	for i, c := range changes {
		if i < len(wantOps) && c != wantOps[i]+" "+origin {
			t.Errorf("row change %q, want %q", c, wantOps[i]+" "+origin)
		}
	}
	if t.Failed() {
		t.Logf("statements over TDS:\n%s", tdsfake.StatementsText(f.Statements()))
	}
	rec, ok, err := tg.Checkpoint(ctx, "s", "app")
	if err != nil || !ok {
		t.Fatalf("Checkpoint = %v, %v", ok, err)
	}
	if w := applytest.Record(2); rec.Position != w.Position || rec.StreamSeq != w.StreamSeq || !rec.AppliedAt.Equal(w.AppliedAt) {
		t.Errorf("checkpoint %+v, want position, stream sequence and time of %+v", rec, w)
	}
}

// TestProbeOverTDS: the two-way probe (probe.go), Probe and ProbeAll, of
// the suite every target's probe passes, through go-mssqldb against the
// Store holding the suite's rows. It proves the queries' parameters,
// their numbering across ProbeAll's UNION ALL, the result's columns
// (index, JSON row, two bits, an int) and their scanning; the Store
// evaluates the comparisons by their shape (test/tdsfake/probe.go), so
// what SQL Server makes of the T-SQL is left to TestRealServerProbeAll.
func TestProbeOverTDS(t *testing.T) {
	applytest.Suite{NewEnv: storeEnv}.ProbeAll(t)
}

// storeEnv is an applytest.Env on a TDS fake whose Store holds the
// suite's OpsDDL tables and rows (realserver_test.go's opsDDL); Exec
// runs nothing, as the Store holds them already.
func storeEnv(tb testing.TB) applytest.Env {
	t := tb.(*testing.T)
	f, st := itemsStore(t)
	st.AddTable("[pairs]", []string{"a", "b"},
		tdsfake.Column{Name: "a", Type: "int"}, tdsfake.Column{Name: "b", Type: "nvarchar"}, tdsfake.Column{Name: "v", Type: "nvarchar"})
	st.AddTable("[logs]", nil, tdsfake.Column{Name: "msg", Type: "nvarchar"}, tdsfake.Column{Name: "n", Type: "int"})
	st.Insert("[items]", map[string]any{"id": int64(1), "name": "one", "note": "big note", "qty": int64(10)})
	st.Insert("[items]", map[string]any{"id": int64(2), "name": "two", "note": nil, "qty": int64(20)})
	st.Insert("[pairs]", map[string]any{"a": int64(1), "b": "x", "v": "old"})
	tg, err := New(Config{Name: "erp", DSN: f.DSN(), SyncdVersion: "test"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Close)
	return applytest.Env{Target: tg, Exec: func(...string) {}}
}

// TestProbeAllSplitsOverTDS: a ProbeAll of more parameters than a
// request holds is split into several UNION ALL queries, each numbering
// its parameters from @p1, and every change reads its own row.
func TestProbeAllSplitsOverTDS(t *testing.T) {
	ctx := applytest.Context(t)
	f, st := itemsStore(t)
	const n = 300 // 9 parameters each: 2,700
	cs := make([]*apply.Change, n)
	for i := range cs {
		id := i + 1
		st.Insert("[items]", map[string]any{"id": int64(id), "name": fmt.Sprint("n", id), "note": nil, "qty": int64(id)})
		// Every third old row differs from the one the Store holds.
		old := fmt.Sprintf(`{"id":%d,"name":"n%d","note":null,"qty":%d}`, id, id, id+i%3/2)
		cs[i] = applytest.Change(items, capture.OpUpdate, applytest.Key(id), old, fmt.Sprintf(`{"id":%d,"name":"m%d","note":null,"qty":%d}`, id, id, id))
	}
	tg, err := New(Config{Name: "erp", DSN: f.DSN(), SyncdVersion: "test"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Prepare(ctx, "s", []*router.TableSchema{items}); err != nil {
		t.Fatal(err)
	}
	tx, err := tg.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	ps, err := tx.(apply.BatchProber).ProbeAll(ctx, cs, make([]string, n))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if want := i%3 != 2; !p.Found || p.Base != want || p.New {
			t.Errorf("change %d: probe %+v, want found, base %v, not new", i, p, want)
		}
	}
	queries := 0
	for _, s := range f.Statements() {
		if strings.Contains(s, " FOR JSON PATH, ") {
			queries++
		}
	}
	if queries != 2 {
		t.Errorf("%d probe queries, want 2", queries)
	}
}

// itemsStore returns a TDS fake answered by a Store that holds an empty
// [items] table, the shape of applytest's items.
func itemsStore(t *testing.T) (*tdsfake.Server, *tdsfake.Store) {
	f := tdsfake.New(t, nil)
	st := tdsfake.NewStore()
	f.Handler = st
	st.AddTable("[items]", []string{"id"},
		tdsfake.Column{Name: "id", Type: "int"}, tdsfake.Column{Name: "name", Type: "nvarchar"},
		tdsfake.Column{Name: "note", Type: "nvarchar"}, tdsfake.Column{Name: "qty", Type: "int"})
	return f, st
}
