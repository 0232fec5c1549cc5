package router

import (
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/filter"
)

var productTable = &capture.Table{
	Schema: "public", Name: "product",
	Columns: []capture.Column{{Name: "id", Type: "integer"}, {Name: "name", Type: "text"}, {Name: "price", Type: "numeric"}, {Name: "notes", Type: "text"}},
	Key:     []int{0},
}

func testPlan(t *testing.T, where string, columns []string) *plan {
	t.Helper()
	st := &scopes.Table{Scope: &scopes.Scope{Name: "s"}, ID: productTable.ID(), Columns: columns, Target: productTable.ID()}
	if where != "" {
		f, err := filter.Parse(where)
		if err != nil {
			t.Fatal(err)
		}
		st.Where = f
	}
	p, err := newPlan(nil, st, productTable, SourceInfo{Kind: "postgres", Name: "app", DB: "app"}, 1, NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func row(id int32, name string, price string) capture.Row {
	return capture.Row{id, name, capture.Decimal(price), nil}
}

// keyOnly is an old row as the default replica identity sends it.
func keyOnly(id int32) capture.Row {
	return capture.Row{id, capture.Absent, capture.Absent, capture.Absent}
}

func TestPlanRoute(t *testing.T) {
	txn := &capture.Txn{ID: "1", Pos: 1}
	ev := func(op capture.Op, before, after capture.Row) *capture.Event {
		return &capture.Event{Txn: txn, Table: productTable, Op: op, Before: before, After: after}
	}
	tests := []struct {
		name       string
		where      string
		ev         *capture.Event
		wantOK     bool
		wantOp     capture.Op
		wantReason string
		wantKey    any // value of the key column in the message's key row
	}{
		{"insert, no filter", "", ev(capture.OpInsert, nil, row(1, "a", "5")), true, capture.OpInsert, ReasonChange, int32(1)},
		{"insert matching", "price > 1", ev(capture.OpInsert, nil, row(1, "a", "5")), true, capture.OpInsert, ReasonChange, int32(1)},
		{"insert not matching", "price > 10", ev(capture.OpInsert, nil, row(1, "a", "5")), false, 0, "", nil},
		{"insert, filter on NULL is unknown", "notes = 'x'", ev(capture.OpInsert, nil, row(1, "a", "5")), false, 0, "", nil},
		{"snapshot read", "price > 1", ev(capture.OpRead, nil, row(1, "a", "5")), true, capture.OpRead, ReasonSnapshot, int32(1)},
		{"update in to in", "price > 1", ev(capture.OpUpdate, row(1, "a", "5"), row(1, "a", "6")), true, capture.OpUpdate, ReasonChange, int32(1)},
		{"update out to in: enter", "price > 1", ev(capture.OpUpdate, row(1, "a", "0"), row(1, "a", "6")), true, capture.OpInsert, ReasonScopeEnter, int32(1)},
		{"update in to out: exit", "price > 1", ev(capture.OpUpdate, row(1, "a", "5"), row(1, "a", "0")), true, capture.OpDelete, ReasonScopeExit, int32(1)},
		{"update out to out", "price > 1", ev(capture.OpUpdate, row(1, "a", "0"), row(1, "a", "0.5")), false, 0, "", nil},
		{"update, no old image, in", "price > 1", ev(capture.OpUpdate, nil, row(1, "a", "5")), true, capture.OpUpdate, ReasonChange, int32(1)},
		{"update, no old image, out: exit anyway", "price > 1", ev(capture.OpUpdate, nil, row(1, "a", "0")), true, capture.OpDelete, ReasonScopeExit, int32(1)},
		{"update, key-only old image, out: exit with old key", "price > 1", ev(capture.OpUpdate, keyOnly(7), row(8, "a", "0")), true, capture.OpDelete, ReasonScopeExit, int32(7)},
		{"update, key change, in", "price > 1", ev(capture.OpUpdate, keyOnly(7), row(8, "a", "5")), true, capture.OpUpdate, ReasonChange, int32(8)},
		{"delete, old row matched", "price > 1", ev(capture.OpDelete, row(1, "a", "5"), nil), true, capture.OpDelete, ReasonChange, int32(1)},
		{"delete, old row did not match", "price > 1", ev(capture.OpDelete, row(1, "a", "0"), nil), false, 0, "", nil},
		{"delete, key only: unknown, published", "price > 1", ev(capture.OpDelete, keyOnly(1), nil), true, capture.OpDelete, ReasonChange, int32(1)},
		{"truncate", "price > 1", ev(capture.OpTruncate, nil, nil), true, capture.OpTruncate, ReasonChange, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := testPlan(t, tt.where, nil).route(tt.ev, false)
			if ok != tt.wantOK {
				t.Fatalf("route ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if m.op != tt.wantOp || m.reason != tt.wantReason {
				t.Fatalf("route = %c %s, want %c %s", m.op, m.reason, tt.wantOp, tt.wantReason)
			}
			var key any
			if m.key != nil {
				key = m.key[0]
			}
			if key != tt.wantKey {
				t.Fatalf("key = %v, want %v", key, tt.wantKey)
			}
			if m.op == capture.OpDelete && m.after != nil || m.op == capture.OpInsert && m.before != nil {
				t.Fatalf("%c message with before %v after %v", m.op, m.before, m.after)
			}
			if m.op == capture.OpDelete && m.before == nil {
				t.Fatal("delete message without a before image")
			}
		})
	}
}

func TestPlanChecksColumns(t *testing.T) {
	st := &scopes.Table{Scope: &scopes.Scope{Name: "s"}, ID: productTable.ID(), Columns: []string{"id", "nope"}}
	_, err := newPlan(nil, st, productTable, SourceInfo{Name: "app"}, 1, NewMetrics(nil))
	if err == nil || !retry.IsTerminal(err) {
		t.Fatalf("newPlan with an unknown column: %v, want a terminal error", err)
	}
}

func TestEnvelopeProjection(t *testing.T) {
	p := testPlan(t, "", []string{"price", "id"})
	after := capture.Row{int32(1), "a", capture.Decimal("1.50"), capture.Absent}
	m := message{plan: p, op: capture.OpUpdate, reason: ReasonChange, key: after, after: after, seq: 2,
		ev: &capture.Event{Txn: &capture.Txn{ID: "9", Pos: 0x16B3748}, Table: productTable, Op: capture.OpUpdate, After: after}}
	body, off := appendBody(nil, &m, testNow)
	want := `{"op":"u","key":{"id":1},"before":null,"after":{"id":1,"price":"1.50"},"scope":{"name":"s","version":1,"reason":"change"},"source":{"kind":"postgres","name":"app","db":"app","schema":"public","table":"product","pos":"0/16B3748","commit_ts":"0001-01-01T00:00:00Z","snapshot":false},"txn":{"id":"9","seq":2,"last":false},"ts_ms":1772359200130}`
	if string(body) != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	// "notes" is Absent but not projected, so nothing is unchanged here;
	// with all columns projected it is listed.
	all := testPlan(t, "", nil)
	m.plan = all
	body, off = appendBody(nil, &m, testNow)
	if e, err := Decode(body); err != nil || len(e.Unchanged) != 1 || e.Unchanged[0] != "notes" || e.After["notes"] != nil {
		t.Fatalf("unchanged = %v, after = %v (%v)", e.Unchanged, e.After, err)
	}
	last := setLast(body, off, false)
	if e, err := Decode(last); err != nil || !e.Txn.Last || e.Txn.CopyEnd {
		t.Fatalf("after setLast: %s (%v)", last, err)
	}
	// The last message of a copy's last transaction says so, and is
	// read back so by both decoders.
	body, off = appendBody(nil, &m, testNow)
	end := setLast(body, off, true)
	if !strings.Contains(string(end), `"txn":{"id":"9","seq":2,"last":true,"copy_end":true},"ts_ms":`) {
		t.Fatalf("after setLast with the copy's end: %s", end)
	}
	if e, err := Decode(end); err != nil || !e.Txn.Last || !e.Txn.CopyEnd {
		t.Fatalf("Decode(%s) = %+v, %v", end, e, err)
	}
	if raw, err := DecodeRows(end); err != nil || len(raw) != 1 || !raw[0].Txn.CopyEnd {
		t.Fatalf("DecodeRows(%s) = %v, %v", end, raw, err)
	}
}
