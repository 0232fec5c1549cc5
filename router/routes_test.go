package router

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/filter"
	"github.com/syncd-dev/syncd/test/testenv"
)

// routesWheres are the filters of the scopes of TestRoutesMatchEveryFilter:
// spokes with region = 'rK' (some sharing a value), filters the index
// cannot use, and literals that compare UNKNOWN or NULL.
var routesWheres = []string{
	"name = 'r0'", "name = 'r1'", "name = 'r1'", "name = 'r2' AND price > 5", "price > 5 AND name = 'r3'",
	"name = '7'", "name = 7", "name = NULL", "name IS NULL", "name = 'r1' OR id = 2", "NOT name = 'r0'",
	"price > 5", "", "id = 3", "name = 'r4'",
}

// routesValues are the values the name column takes in its events.
var routesValues = []any{"r0", "r1", "r2", "r3", "r4", "7", "x", "", nil, capture.Absent, int64(7), capture.Decimal("7"), []byte("r1")}

// TestRoutesMatchEveryFilter routes random inserts, reads, deletes,
// updates (with the old row full, key only or missing) and truncates
// through the filter index, and wants exactly the messages that routing
// the event through every scope's filter gives: the same scopes, ops,
// reasons and rows, in the same order. That includes updates whose old and
// new rows belong to different spokes (scope_exit on one, scope_enter on
// the other), NULLs, and values = reads as another type.
func TestRoutesMatchEveryFilter(t *testing.T) {
	var ss []*scopes.Scope
	for i, where := range routesWheres {
		s := &scopes.Scope{Name: fmt.Sprintf("s%02d", i), Source: "app"}
		st := &scopes.Table{Scope: s, ID: productTable.ID(), Target: productTable.ID()}
		if where != "" {
			f, err := filter.Parse(where)
			if err != nil {
				t.Fatal(err)
			}
			st.Where = f
		}
		s.Tables = []*scopes.Table{st}
		ss = append(ss, s)
	}
	ix := scopes.NewIndex(ss)
	rt := newTableRoutes(ix, "app", productTable)
	if rt.filters.Column() != "name" || rt.col != 1 {
		t.Fatalf("indexed column %q at %d, want name at 1", rt.filters.Column(), rt.col)
	}
	plans := make([]*plan, len(rt.tables))
	for i, st := range rt.tables {
		p, err := newPlan(nil, st, productTable, SourceInfo{Kind: "postgres", Name: "app", DB: "app"}, 1, NewMetrics(nil))
		if err != nil {
			t.Fatal(err)
		}
		plans[i] = p
	}

	rng := rand.New(rand.NewPCG(20, 2))
	value := func() any { return routesValues[rng.IntN(len(routesValues))] }
	fullRow := func() capture.Row {
		return capture.Row{rng.Int32N(5), value(), capture.Decimal(fmt.Sprint(rng.IntN(10))), nil}
	}
	oldRow := func() capture.Row {
		switch rng.IntN(4) {
		case 0:
			return nil // no old image
		case 1:
			return keyOnly(rng.Int32N(5))
		}
		return fullRow()
	}
	ops := []capture.Op{capture.OpInsert, capture.OpRead, capture.OpDelete, capture.OpUpdate, capture.OpUpdate, capture.OpTruncate}
	narrowed := 0
	for range 20000 {
		ev := &capture.Event{Table: productTable, Op: ops[rng.IntN(len(ops))]}
		switch ev.Op {
		case capture.OpInsert, capture.OpRead:
			ev.After = fullRow()
		case capture.OpDelete:
			if ev.Before = oldRow(); ev.Before == nil {
				ev.Before = keyOnly(1)
			}
		case capture.OpUpdate:
			ev.Before, ev.After = oldRow(), fullRow()
		}
		var want, got []message
		for _, p := range plans {
			if m, ok := p.route(ev, false); ok {
				want = append(want, m)
			}
		}
		cand := rt.candidates(nil, ev)
		for _, i := range cand {
			if m, ok := plans[i].route(ev, false); ok {
				got = append(got, m)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%v %v -> %v: through the index %s, through every filter %s", ev.Op, ev.Before, ev.After, describe(plans, got), describe(plans, want))
		}
		if len(cand) < len(plans) {
			narrowed++
		}
	}
	if narrowed < 5000 {
		t.Errorf("the index narrowed %d of 20000 events, want most of those with a name", narrowed)
	}
}

// describe names the scope (by position in plans), op and reason of ms.
func describe(plans []*plan, ms []message) string {
	s := "["
	for _, m := range ms {
		s += fmt.Sprintf(" s%02d:%c/%s", slices.Index(plans, m.plan), m.op, m.reason)
	}
	return s + " ]"
}

// TestRoutesFailOnFirstRow feeds a row that only scope "good" matches to a
// table that scope "bad" lists a column of which it does not have: the
// router fails on that first row, as when every scope's filter was
// evaluated for it, although the index rules "bad" out.
func TestRoutesFailOnFirstRow(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	cfg := loadConfig(t, `
source "postgres" "app" { dsn = "postgres://localhost/app" }
scope "bad" {
  source   = "app"
  snapshot = "never"
  table "public.product" {
    columns = ["id", "nope"]
    where   = "name = 'r1'"
  }
}
scope "good" {
  source   = "app"
  snapshot = "never"
  table "public.product" { where = "name = 'r2'" }
}`)
	r := newRouter(t, conn, cfg, 0)
	ctx := context.Background()
	txn := &capture.Txn{ID: "1", Pos: 100, Ack: 110, CommitTime: time.Now()}
	if err := r.Begin(ctx, txn); err != nil {
		t.Fatal(err)
	}
	err := r.Change(ctx, &capture.Event{Txn: txn, Table: productTable, Op: capture.OpInsert, After: row(1, "r2", "1")})
	if !retry.IsTerminal(err) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("Change of a row only scope good matches = %v, want a terminal error naming column nope of scope bad", err)
	}
}
