package router

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

func productScope(table string) string {
	return `
source "postgres" "app" { dsn = "postgres://localhost/app" }
scope "s" {
  source = "app"
  table "public.product" {` + table + `}
}`
}

// render returns what a request's filter renders, or "" without one.
func render(f func([]any) (string, []any)) string {
	if f == nil {
		return ""
	}
	sql, args := f(nil)
	return fmt.Sprintf("%s %v", sql, args)
}

// TestRouterScopeChangeSnapshots: a changed definition asks for the
// difference to the definition the last snapshot copied, never a truncate;
// a record without that definition is copied afresh once.
func TestRouterScopeChangeSnapshots(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	type want struct {
		none      bool // no snapshot to take
		truncate  bool
		where     string
		exitWhere string
		resume    bool
	}
	steps := []struct {
		name   string
		table  string
		legacy string // the last record is rewritten as a syncd without definitions wrote it, with this hash
		cut    string // a backfill recorded progress and did not finish: of "another" or the "current" definition
		want   want
	}{
		{name: "first snapshot", table: `where = "price > 1"`,
			want: want{truncate: true, where: `"price" > $1 [1]`}},
		{name: "widened", table: `where = "price > 0"`,
			want: want{where: `("price" > $1) AND NOT COALESCE(("price" > $2), FALSE) [0 1]`,
				exitWhere: `("price" > $1) AND NOT COALESCE(("price" > $2), FALSE) [1 0]`}},
		{name: "narrowed", table: `where = "price > 5"`,
			want: want{where: `("price" > $1) AND NOT COALESCE(("price" > $2), FALSE) [5 0]`,
				exitWhere: `("price" > $1) AND NOT COALESCE(("price" > $2), FALSE) [0 5]`}},
		{name: "filter dropped", table: `columns = ["id", "name", "price"]`,
			want: want{where: `NOT COALESCE(("price" > $1), FALSE) [5]`, exitWhere: `1 = 0 []`}},
		{name: "column removed", table: `columns = ["id", "price"]`,
			want: want{none: true}},
		{name: "column added", table: `columns = ["id", "price", "notes"]`,
			want: want{}},
		{name: "column list dropped, filter added", table: `where = "price > 2"`,
			want: want{where: `"price" > $1 [2]`, exitWhere: `NOT COALESCE(("price" > $1), FALSE) [2]`}},
		{name: "record without definition", table: `where = "price > 3"`, legacy: "old",
			want: want{truncate: true, where: `"price" > $1 [3]`}},
		{name: "matching record without definition", table: `where = "price > 3"`, legacy: "current",
			want: want{none: true}},
		{name: "after it, changed", table: `where = "price > 4"`,
			want: want{where: `("price" > $1) AND NOT COALESCE(("price" > $2), FALSE) [4 3]`,
				exitWhere: `("price" > $1) AND NOT COALESCE(("price" > $2), FALSE) [3 4]`}},
		{name: "a cut backfill of this definition resumes", table: `where = "price > 6"`, cut: "current",
			want: want{where: `("price" > $1) AND NOT COALESCE(("price" > $2), FALSE) [6 4]`,
				exitWhere: `("price" > $1) AND NOT COALESCE(("price" > $2), FALSE) [4 6]`, resume: true}},
		{name: "a cut backfill of another definition: every row out deleted, every row in sent", table: `where = "price > 7"`, cut: "another",
			want: want{where: `"price" > $1 [7]`, exitWhere: `NOT COALESCE(("price" > $1), FALSE) [7]`}},
		{name: "the definition done before, with a cut backfill of another", table: `where = "price > 7"`, cut: "another",
			want: want{where: `"price" > $1 [7]`, exitWhere: `NOT COALESCE(("price" > $1), FALSE) [7]`}},
	}
	key := tableKey{scope: "s", table: productTable.ID()}
	for _, step := range steps {
		cfg := loadConfig(t, productScope(step.table))
		if step.legacy != "" {
			hash := step.legacy
			if hash == "current" {
				hash = definitionHash(cfg.Scopes[0].Tables[0])
			}
			js, _ := jetstream.New(conn.nc)
			kv, err := js.KeyValue(ctx, SnapshotBucket)
			must(t, err)
			_, err = kv.Put(ctx, key.kv(), []byte(`{"hash":"`+hash+`","rows":2,"done":"2026-01-01T00:00:00Z"}`))
			must(t, err)
		}
		if step.cut != "" {
			js, _ := jetstream.New(conn.nc)
			kv, err := js.KeyValue(ctx, SnapshotBucket)
			must(t, err)
			hash := step.cut
			if hash == "current" {
				hash = definitionHash(cfg.Scopes[0].Tables[0])
			}
			_, err = kv.Put(ctx, key.progressKV(), []byte(`{"hash":"`+hash+`","state":{"phase":1},"rows":1}`))
			must(t, err)
		}
		r := newRouter(t, conn, cfg, 10)
		reqs := r.Snapshots()
		if step.want.none {
			if len(reqs) != 0 {
				t.Fatalf("%s: Snapshots() = %+v, want none", step.name, reqs)
			}
			r.Close()
			if again := newRouter(t, conn, loadConfig(t, productScope(step.table)), 10).Snapshots(); len(again) != 0 {
				t.Fatalf("%s: the new definition was not recorded: a new router asks for %+v", step.name, again)
			}
			continue
		}
		if len(reqs) != 1 {
			t.Fatalf("%s: Snapshots() = %+v, want one", step.name, reqs)
		}
		got := want{truncate: reqs[0].Truncate, where: render(reqs[0].Where), exitWhere: render(reqs[0].ExitWhere), resume: reqs[0].Resume != nil}
		if !reflect.DeepEqual(got, step.want) {
			t.Fatalf("%s: request %+v, want %+v", step.name, got, step.want)
		}
		r.snapshotStarted(key)
		must(t, r.SnapshotDone(ctx, reqs[0], 1))
		r.Close()
	}
}

// TestRouterPublishesScopeChange: a diff snapshot publishes its deletes as
// scope_exit and its reads as backfill, with the scope's new version, and
// live changes to the table go on while it is pending, deleting rows that
// leave both the old and the new scope.
func TestRouterPublishesScopeChange(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	first := newRouter(t, conn, loadConfig(t, productScope(`where = "price > 1"`)), 10)
	req := first.Snapshots()[0]
	first.snapshotStarted(tableKey{scope: "s", table: req.Table})
	must(t, first.SnapshotDone(ctx, req, 0))
	first.Close()

	r := newRouter(t, conn, loadConfig(t, productScope(`where = "price > 5"`)), 10)
	live := &capture.Txn{ID: "1", Pos: 100, Ack: 110}
	must(t, r.Begin(ctx, live))
	must(t, r.Change(ctx, &capture.Event{Txn: live, Table: productTable, Op: capture.OpInsert, After: capture.Row{int32(1), "n", capture.Decimal("6"), nil}}))
	// Rows 2 and 3 are in the old scope only, so at the targets until the
	// diff: one moves out of both, one is deleted.
	must(t, r.Change(ctx, &capture.Event{Txn: live, Table: productTable, Op: capture.OpUpdate,
		Before: capture.Row{int32(2), "n", capture.Decimal("3"), nil}, After: capture.Row{int32(2), "n", capture.Decimal("0"), nil}}))
	must(t, r.Change(ctx, &capture.Event{Txn: live, Table: productTable, Op: capture.OpDelete, Before: capture.Row{int32(3), "n", capture.Decimal("3"), nil}}))
	must(t, r.Commit(ctx, live))
	snap := &capture.Txn{ID: "snapshot", Pos: 150, Ack: 110, Snapshot: true}
	must(t, r.Begin(ctx, snap))
	must(t, r.Change(ctx, &capture.Event{Txn: snap, Table: productTable, Op: capture.OpDelete, Before: capture.Row{int32(7), "n", capture.Decimal("3"), nil}, Scope: "s"}))
	must(t, r.Change(ctx, &capture.Event{Txn: snap, Table: productTable, Op: capture.OpRead, After: capture.Row{int32(8), "n", capture.Decimal("9"), nil}, Scope: "s"}))
	must(t, r.Commit(ctx, snap))
	drain(t, r)

	var got []string
	for _, m := range streamMsgs(t, conn.nc, "s") {
		es, err := DecodeAll(m.Data) // a snapshot's rows come packed
		must(t, err)
		for _, e := range es {
			got = append(got, fmt.Sprintf("%s:%s:v%d:%v", e.Op, e.Scope.Reason, e.Scope.Version, e.Key["id"]))
		}
	}
	want := "c:change:v2:1 d:scope_exit:v2:2 d:change:v2:3 d:scope_exit:v2:7 r:backfill:v2:8"
	if strings.Join(got, " ") != want {
		t.Errorf("stream holds %v, want %s", got, want)
	}
}

// TestRouterForgetsRemovedTables: a table removed from a scope and added
// back later is copied afresh after a truncate: its targets missed the
// changes in between.
func TestRouterForgetsRemovedTables(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	both := loadConfig(t, `
source "postgres" "app" { dsn = "postgres://localhost/app" }
scope "s" {
  source = "app"
  table "public.product" {}
  table "public.customer" {}
}`)
	r := newRouter(t, conn, both, 10)
	for _, req := range r.Snapshots() {
		r.snapshotStarted(tableKey{scope: req.Scope, table: req.Table})
		must(t, r.SnapshotDone(ctx, req, 1))
	}
	r.Close()
	newRouter(t, conn, loadConfig(t, productScope("")), 10).Close()
	again := newRouter(t, conn, both, 10).Snapshots()
	if len(again) != 1 || again[0].Table.Name != "customer" || !again[0].Truncate {
		t.Fatalf("after public.customer left the scope and came back, Snapshots() = %+v; want a truncating copy of it", again)
	}
}

// TestRouterHoldsBackLeftOutValues: while a table's backfill is open (its
// first snapshot event came, SnapshotDone not yet), an update that leaves
// values out (unchanged TOAST) is not published for that scope, since the
// row may not be at the targets yet (the source reads it again); before
// and after, it is.
func TestRouterHoldsBackLeftOutValues(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	r := newRouter(t, conn, loadConfig(t, productScope("")), 10)
	req := r.Snapshots()[0]
	pos := capture.Position(100)
	update := func(id int32) {
		pos += 10
		txn := &capture.Txn{ID: "live", Pos: pos, Ack: pos + 1}
		must(t, r.Begin(ctx, txn))
		must(t, r.Change(ctx, &capture.Event{Txn: txn, Table: productTable, Op: capture.OpUpdate,
			After: capture.Row{id, "n", capture.Decimal("1"), capture.Absent}}))
		must(t, r.Commit(ctx, txn))
	}
	pos += 10
	snap := &capture.Txn{ID: "snapshot", Pos: pos, Ack: pos + 1, Snapshot: true}
	must(t, r.Begin(ctx, snap))
	must(t, r.Change(ctx, &capture.Event{Txn: snap, Table: productTable, Op: capture.OpTruncate, Scope: "s"}))
	must(t, r.Commit(ctx, snap))
	update(1) // held back: the backfill is open
	must(t, r.SnapshotDone(ctx, req, 0))
	update(2) // published
	drain(t, r)
	var got []string
	for _, m := range streamMsgs(t, conn.nc, "s") {
		es, err := DecodeAll(m.Data)
		must(t, err)
		for _, e := range es {
			got = append(got, fmt.Sprintf("%s:%v", e.Op, e.Key["id"]))
		}
	}
	if want := "t:<nil> u:2"; strings.Join(got, " ") != want {
		t.Errorf("stream holds %v, want %s", got, want)
	}
}
