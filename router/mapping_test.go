package router

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/filter"
	"github.com/syncd-dev/syncd/scopes/mapping"
)

// TestPlanMapping checks that a plan with a mapping filters on source
// columns, publishes mapped key, old and new rows and the mapped schema,
// and publishes a row its transform fails on without rows, with the error.
func TestPlanMapping(t *testing.T) {
	parse := func(src string) *mapping.Expr {
		e, err := mapping.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	f, err := filter.Parse("price > 1")
	if err != nil {
		t.Fatal(err)
	}
	st := &scopes.Table{Scope: &scopes.Scope{Name: "s"}, ID: productTable.ID(), Target: productTable.ID(), Where: f,
		Mapping: &mapping.Spec{Auto: mapping.AutoExact, Drop: []string{"notes", "price"}, Columns: []mapping.Column{
			{Name: "product_id", From: "id"},
			{Name: "label", Expr: parse(`upper(name) + ':' + price`)},
			{Name: "initial", Expr: parse(`name[0:1]`), Type: "char(1)"},
		}}}
	p, err := newPlan(nil, st, productTable, SourceInfo{Kind: "postgres", Name: "app", DB: "app"}, 1, NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	ts := tableSchema(st, productTable, p, "postgres")
	wantSchema := []ColumnSchema{{Name: "name", Type: "text"}, {Name: "product_id", Type: "integer"}, {Name: "label", Type: "text"}, {Name: "initial", Type: "char(1)"}}
	if diff := cmp.Diff(wantSchema, ts.Columns); diff != "" || !cmp.Equal(ts.Key, []string{"product_id"}) {
		t.Errorf("schema columns (-want +got):\n%s\nkey %v", diff, ts.Key)
	}

	body := func(ev *capture.Event) (map[string]any, bool) {
		t.Helper()
		m, ok := p.route(ev, false)
		if !ok {
			return nil, false
		}
		p.mapRows(&m)
		b, _ := appendBody(nil, &m, time.Unix(0, 0))
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("body %s: %v", b, err)
		}
		return doc, true
	}
	txn := &capture.Txn{ID: "1", Pos: 1}
	doc, ok := body(&capture.Event{Txn: txn, Table: productTable, Op: capture.OpUpdate, Before: keyOnly(7), After: row(8, "ab", "5")})
	if !ok {
		t.Fatal("update matching the filter on price (a dropped column) was not routed")
	}
	want := map[string]any{
		"key":    map[string]any{"product_id": 8.0},
		"before": map[string]any{"product_id": 7.0},
		"after":  map[string]any{"name": "ab", "product_id": 8.0, "label": "AB:5", "initial": "a"},
	}
	for k, v := range want {
		if diff := cmp.Diff(v, doc[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	if _, ok := body(&capture.Event{Txn: txn, Table: productTable, Op: capture.OpInsert, After: row(9, "x", "0")}); ok {
		t.Error("insert failing the filter was routed")
	}
	doc, _ = body(&capture.Event{Txn: txn, Table: productTable, Op: capture.OpInsert, After: capture.Row{int32(9), nil, capture.Decimal("5"), nil}})
	if e, _ := doc["error"].(string); !strings.Contains(e, "label") || doc["after"] != nil || doc["key"] != nil {
		t.Errorf("row with a NULL name: %v, want no rows and the error of column label", doc)
	}
}

// TestPlanReland checks that a backfill row of a changed transform
// carries the key and the re-landed column only, the others listed as
// unchanged, and that re-landing a key column sends whole rows.
func TestPlanReland(t *testing.T) {
	label, err := mapping.Parse(`upper(name)`)
	if err != nil {
		t.Fatal(err)
	}
	st := &scopes.Table{Scope: &scopes.Scope{Name: "s"}, ID: productTable.ID(), Target: productTable.ID(),
		Mapping: &mapping.Spec{Auto: mapping.AutoExact, Drop: []string{"notes"}, Columns: []mapping.Column{{Name: "label", Expr: label}}}}
	p, err := newPlan(nil, st, productTable, SourceInfo{Kind: "postgres", Name: "app", DB: "app"}, 1, NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	body := func(cols []string) map[string]any {
		t.Helper()
		ev := &capture.Event{Txn: &capture.Txn{ID: "1", Pos: 1, Snapshot: true}, Table: productTable, Op: capture.OpRead, After: row(8, "ab", "5")}
		m, _ := p.route(ev, false)
		p.mapRows(&m)
		p.reland(&m, cols)
		b, _ := appendBody(nil, &m, time.Unix(0, 0))
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("body %s: %v", b, err)
		}
		return map[string]any{"after": doc["after"], "unchanged": doc["unchanged"]}
	}
	want := map[string]any{"after": map[string]any{"id": 8.0, "label": "AB"}, "unchanged": []any{"name", "price"}}
	if diff := cmp.Diff(want, body([]string{"label"})); diff != "" {
		t.Errorf("re-landing label (-want +got):\n%s", diff)
	}
	want = map[string]any{"after": map[string]any{"id": 8.0, "name": "ab", "price": "5", "label": "AB"}, "unchanged": nil}
	if diff := cmp.Diff(want, body([]string{"id", "label"})); diff != "" {
		t.Errorf("re-landing a key column (-want +got):\n%s", diff)
	}
}
