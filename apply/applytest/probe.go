package applytest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

// ProbeAll checks that a target's apply.BatchProber reads, in one call,
// what its Probe reads change by change, on the Tables as OpsDDL makes
// them: whether the row is there, whether it equals the change's old
// row and its new one, the policy column's comparison, and the row.
func (s Suite) ProbeAll(t *testing.T) {
	items, pairs, e := s.probeTables(t)
	one := `{"id":1,"name":"one","note":"big note","qty":10}`
	two := `{"id":2,"name":"two","note":null,"qty":20}`
	tests := []struct {
		name             string
		change           *apply.Change
		column           string
		found, base, new bool
		newer            int
	}{
		{"insert of a new key", Change(items, ins, Key(5), "", `{"id":5,"name":"five","note":null,"qty":5}`), "", false, false, false, 0},
		{"insert of the row there", Change(items, ins, Key(1), "", one), "", true, true, true, 0},
		{"insert of another row", Change(items, ins, Key(1), "", `{"id":1,"name":"uno","note":"big note","qty":10}`), "", true, true, false, 0},
		{"update of the row expected", Change(items, upd, Key(1), one, `{"id":1,"name":"uno","note":"big note","qty":11}`), "qty", true, true, false, 1},
		{"update of a changed row", Change(items, upd, Key(2), `{"id":2,"name":"two","note":"x","qty":20}`, `{"id":2,"name":"zwei","note":"x","qty":19}`), "qty", true, false, false, -1},
		{"update already applied", Change(items, upd, Key(2), `{"id":2,"name":"deux","note":null,"qty":1}`, two), "qty", true, false, true, 0},
		{"update with an unchanged value", Change(items, upd, Key(1), one, `{"id":1,"name":"one","qty":10}`, "note"), "", true, true, true, 0},
		{"update of a missing row", Change(items, upd, Key(7), `{"id":7,"name":"s","note":null,"qty":7}`, `{"id":7,"name":"t","note":null,"qty":7}`), "", false, false, false, 0},
		{"update moving a key", Change(pairs, upd, `{"a":2,"b":"y"}`, `{"a":1,"b":"x","v":"old"}`, `{"a":2,"b":"y","v":"old"}`), "", true, true, false, 0},
		{"delete of the row expected", Change(pairs, del, `{"a":1,"b":"x"}`, `{"a":1,"b":"x","v":"old"}`, ""), "", true, true, false, 0},
		{"delete of a changed row", Change(items, del, Key(2), `{"id":2,"name":"two","note":null,"qty":21}`, ""), "", true, false, false, 0},
		{"delete of a missing row", Change(items, del, Key(9), `{"id":9,"name":"n","note":null,"qty":9}`, ""), "", false, false, false, 0},
	}
	ctx := Context(t)
	tx, err := e.Target.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	bp, ok := tx.(apply.BatchProber)
	if !ok {
		t.Fatalf("%T is not an apply.BatchProber", tx)
	}
	cs := make([]*apply.Change, len(tests))
	cols := make([]string, len(tests))
	for i, tt := range tests {
		cs[i], cols[i] = tt.change, tt.column
	}
	ps, err := bp.ProbeAll(ctx, cs, cols)
	if err != nil {
		t.Fatalf("ProbeAll: %v", err)
	}
	if len(ps) != len(tests) {
		t.Fatalf("ProbeAll returned %d probes for %d changes", len(ps), len(tests))
	}
	for i, tt := range tests {
		one, err := bp.Probe(ctx, tt.change, tt.column)
		if err != nil {
			t.Fatalf("%s: Probe: %v", tt.name, err)
		}
		p := ps[i]
		if p.Found != tt.found || p.Base != tt.base || p.New != tt.new || p.Newer != tt.newer {
			t.Errorf("%s: ProbeAll found %v, base %v, new %v, newer %d; want %v, %v, %v, %d",
				tt.name, p.Found, p.Base, p.New, p.Newer, tt.found, tt.base, tt.new, tt.newer)
		}
		if p.Found != one.Found || p.Base != one.Base || p.New != one.New || p.Newer != one.Newer || !sameJSON(p.Row, one.Row) {
			t.Errorf("%s: ProbeAll read %+v (row %s), Probe %+v (row %s)", tt.name, p, p.Row, one, one.Row)
		}
		if tt.found && !json.Valid(p.Row) {
			t.Errorf("%s: row %q is not JSON", tt.name, p.Row)
		}
	}
	// The changes of one kind alone (a batch of inserts, whose old rows
	// are all missing; of deletes, without new rows) read the same.
	for _, op := range []capture.Op{ins, upd, del} {
		var (
			sub  []*apply.Change
			cols []string
			at   []int
		)
		for i, c := range cs {
			if c.Op == op {
				sub, cols, at = append(sub, c), append(cols, tests[i].column), append(at, i)
			}
		}
		got, err := bp.ProbeAll(ctx, sub, cols)
		if err != nil {
			t.Fatalf("ProbeAll of the %s changes: %v", op, err)
		}
		for j, i := range at {
			p, want := got[j], ps[i]
			if p.Found != want.Found || p.Base != want.Base || p.New != want.New || p.Newer != want.Newer || !sameJSON(p.Row, want.Row) {
				t.Errorf("%s: ProbeAll of the %s changes alone read %+v, with the others %+v", tests[i].name, op, p, want)
			}
		}
	}
}

// SendProbe checks that a target's apply.PipeProber sends a probe after
// the writes the transaction queued, so that it sees them, and that its
// read returns what ProbeAll reads; and that an update that must find
// its row, sent in the same round trip as a probe, still fails the
// transaction when the row is missing.
func (s Suite) SendProbe(t *testing.T) {
	items, _, e := s.probeTables(t)
	five := `{"id":5,"name":"five","note":null,"qty":5}`
	ctx := Context(t)
	begin := func() (apply.Tx, apply.PipeProber) {
		tx, err := e.Target.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback(ctx) })
		pp, ok := tx.(apply.PipeProber)
		if !ok {
			t.Fatalf("%T is not an apply.PipeProber", tx)
		}
		return tx, pp
	}

	tx, pp := begin()
	if err := tx.Apply(ctx, Change(items, ins, Key(5), "", five)); err != nil {
		t.Fatal(err)
	}
	cs := []*apply.Change{
		Change(items, upd, Key(5), five, `{"id":5,"name":"fünf","note":null,"qty":6}`),
		Change(items, ins, Key(6), "", `{"id":6,"name":"six","note":null,"qty":6}`),
	}
	read, err := pp.SendProbe(ctx, cs, []string{"qty", ""})
	if err != nil {
		t.Fatalf("SendProbe: %v", err)
	}
	ps, err := read()
	if err != nil {
		t.Fatalf("read the probe: %v", err)
	}
	if len(ps) != 2 || !ps[0].Found || !ps[0].Base || ps[0].New || ps[0].Newer != 1 || ps[1].Found {
		t.Fatalf("SendProbe after the insert of key 5 read %+v; want key 5 found as inserted, key 6 missing", ps)
	}
	all, err := pp.ProbeAll(ctx, cs, []string{"qty", ""})
	if err != nil {
		t.Fatalf("ProbeAll: %v", err)
	}
	for i := range ps {
		if ps[i].Found != all[i].Found || ps[i].Base != all[i].Base || ps[i].New != all[i].New || ps[i].Newer != all[i].Newer || !sameJSON(ps[i].Row, all[i].Row) {
			t.Errorf("change %d: SendProbe read %+v, ProbeAll %+v", i, ps[i], all[i])
		}
	}
	for _, c := range cs {
		if err := tx.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx, Record(1)); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got := e.Rows(`SELECT name, qty FROM items WHERE id IN (5, 6) ORDER BY id`); len(got) != 2 || got[0] != "fünf|6" || got[1] != "six|6" {
		t.Errorf("rows 5 and 6 are %q; want fünf 6, six 6", got)
	}

	// An update of a missing row that does not carry its unchanged
	// values must find it: the insert and the probe after it, in its
	// round trip, do not hide that.
	tx, pp = begin()
	missing := Change(items, upd, Key(7), `{"id":7,"name":"s","note":"n","qty":7}`, `{"id":7,"name":"t","qty":7}`, "note")
	for _, c := range []*apply.Change{missing, Change(items, ins, Key(8), "", `{"id":8,"name":"eight","note":null,"qty":8}`)} {
		if err := tx.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	read, err = pp.SendProbe(ctx, cs[1:], []string{""})
	if err == nil {
		_, err = read()
	}
	if !apply.IsRejected(err) {
		t.Fatalf("the probe after an update of a missing row returned %v; want the update rejected", err)
	}
	if err := tx.Commit(ctx, Record(2)); err == nil {
		t.Error("the transaction committed after its update found no row")
	}
}

// SendProbeInserts checks that a target's apply.InsertProber writes,
// with the probe, only the inserts whose key the probe did not find: an
// insert of a key the target holds is probed as SendProbe probes it,
// left unwritten for its caller to settle (a conflict), and the row
// stays as it was; the others are written, and marked so.
func (s Suite) SendProbeInserts(t *testing.T) {
	items, _, e := s.probeTables(t)
	ctx := Context(t)
	tx, err := e.Target.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	ip, ok := tx.(apply.InsertProber)
	if !ok {
		t.Fatalf("%T is not an apply.InsertProber", tx)
	}
	cs := []*apply.Change{
		Change(items, ins, Key(1), "", `{"id":1,"name":"uno","note":null,"qty":1}`),
		Change(items, ins, Key(5), "", `{"id":5,"name":"five","note":null,"qty":5}`),
		Change(items, upd, Key(2), `{"id":2,"name":"two","note":null,"qty":20}`, `{"id":2,"name":"zwei","note":null,"qty":20}`),
		Change(items, ins, Key(6), "", `{"id":6,"name":"six","note":null,"qty":6}`),
	}
	read, err := ip.SendProbeInserts(ctx, cs, make([]string, len(cs)))
	if err != nil {
		t.Fatalf("SendProbeInserts: %v", err)
	}
	ps, err := read()
	if err != nil {
		t.Fatalf("read the probe: %v", err)
	}
	if len(ps) != len(cs) {
		t.Fatalf("SendProbeInserts returned %d probes for %d changes", len(ps), len(cs))
	}
	if p := ps[0]; !p.Found || p.New || p.Written || apply.Classify(cs[0], p) != apply.InsertExists {
		t.Errorf("the insert of key 1, which the target holds, read %+v; want found, differing, not written: an insert_exists conflict", p)
	}
	for _, i := range []int{1, 3} {
		if p := ps[i]; p.Found || !p.Written {
			t.Errorf("the insert of new key %s read %+v; want not found, written", cs[i].Key["id"], p)
		}
	}
	if p := ps[2]; !p.Found || !p.Base || p.Written {
		t.Errorf("the update of key 2 read %+v; want found as expected, not written", p)
	}
	if err := tx.Apply(ctx, cs[2]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx, Record(1)); err != nil {
		t.Fatalf("commit: %v", err)
	}
	want := []string{"1|one|10", "2|zwei|20", "5|five|5", "6|six|6"}
	if got := e.Rows(`SELECT id, name, qty FROM items ORDER BY id`); !slices.Equal(got, want) {
		t.Errorf("rows are %q; want %q (key 1 as the target had it)", got, want)
	}
}

// The operations of the probe tests' changes.
const (
	ins = capture.OpInsert
	upd = capture.OpUpdate
	del = capture.OpDelete
)

// probeTables returns the items and pairs Tables, made by OpsDDL in a
// new Env and prepared at its target, and the Env.
func (s Suite) probeTables(t *testing.T) (items, pairs *router.TableSchema, e Env) {
	items, pairs, logs := Tables(s.Schema)
	e = s.NewEnv(t)
	prepare(t, e, []string{s.OpsDDL}, items, pairs, logs)
	return items, pairs, e
}
