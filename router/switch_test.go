package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// filteredScope is productScope with a filter and no snapshots.
func filteredScope(where string) string {
	return strings.Replace(productScope(`where = "`+where+`"`), `source = "app"`, `source = "app"
  snapshot = "never"`, 1)
}

// TestScopeVersionHistory: each definition gets the next version, pending
// until its switch point is recorded, and every earlier one is kept with
// its switch position.
func TestScopeVersionHistory(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	js, err := jetstream.New(conn.nc)
	must(t, err)
	kv, err := openBucket(ctx, js, ScopeBucket, 1)
	must(t, err)
	version := func(where string) ScopeRecord {
		t.Helper()
		return recordVersion(t, kv, loadConfig(t, filteredScope(where)).Scopes[0])
	}
	at := func(p capture.Position) string { return p.String() }
	type v struct {
		version int
		pending bool
		at      string // the switch position; "" for none
	}
	short := func(rec ScopeRecord) []v {
		var out []v
		for _, x := range append(slices.Clone(rec.History), rec.ScopeVersion) {
			var sw string
			if x.Switch != nil {
				sw = x.Switch.String()
			}
			out = append(out, v{x.Version, x.Pending, sw})
		}
		return out
	}
	check := func(step string, rec ScopeRecord, want []v, effective int) {
		t.Helper()
		got := short(rec)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: versions %+v, want %+v", step, got, want)
		}
		e, ok := rec.effective()
		if !ok && effective != 0 || ok && e.Version != effective {
			t.Fatalf("%s: in effect before the last version: %d %v, want %d", step, e.Version, ok, effective)
		}
		stored, err := kv.Get(ctx, "s")
		must(t, err)
		var rs ScopeRecord
		must(t, json.Unmarshal(stored.Value(), &rs))
		if fmt.Sprint(short(rs)) != fmt.Sprint(want) {
			t.Fatalf("%s: stored %s", step, stored.Value())
		}
	}
	check("first", version("price > 1"), []v{{1, false, ""}}, 0)
	check("unchanged", version("price > 1"), []v{{1, false, ""}}, 0)
	check("changed", version("price > 2"), []v{{1, false, ""}, {2, true, ""}}, 1)
	must(t, recordSwitch(ctx, kv, "s", 2, 0x500))
	must(t, recordSwitch(ctx, kv, "s", 2, 0x900)) // a later switch point of the same version changes nothing
	check("switched", version("price > 2"), []v{{1, false, ""}, {2, false, at(0x500)}}, 1)
	check("changed again", version("price > 3"), []v{{1, false, ""}, {2, false, at(0x500)}, {3, true, ""}}, 2)
	check("changed before switching", version("price > 4"), []v{{1, false, ""}, {2, false, at(0x500)}, {3, true, ""}, {4, true, ""}}, 2)
	must(t, recordSwitch(ctx, kv, "s", 3, 0x600)) // not the last version: nothing
	must(t, recordSwitch(ctx, kv, "s", 4, 0x700))
	check("last switched", version("price > 4"), []v{{1, false, ""}, {2, false, at(0x500)}, {3, true, ""}, {4, false, at(0x700)}}, 2)
}

// TestRouterSwitchPoint: a changed definition routes by the old one until
// the switch point read from the log, and a replay after a crash
// switches at the same transaction; a source that writes no switch points
// switches at its first transaction.
func TestRouterSwitchPoint(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	txn := func(r *Router, pos capture.Position, sw *capture.Switch, ids ...int32) {
		t.Helper()
		tx := &capture.Txn{ID: fmt.Sprint(pos), Pos: pos, Ack: pos + 10, CommitTime: time.Now()}
		must(t, r.Begin(ctx, tx))
		if sw != nil {
			must(t, r.Switched(ctx, tx, *sw))
		}
		for _, id := range ids { // price = id
			must(t, r.Change(ctx, &capture.Event{Txn: tx, Table: productTable, Op: capture.OpInsert, After: capture.Row{id, "n", capture.Decimal(fmt.Sprint(id)), nil}}))
		}
		must(t, r.Commit(ctx, tx))
	}
	r1 := newRouter(t, conn, loadConfig(t, filteredScope("price > 5")), 10)
	if sw := r1.Switches(); len(sw) != 0 {
		t.Fatalf("first version: Switches() = %v, want none", sw)
	}
	txn(r1, 0x100, nil, 10)
	drain(t, r1)
	r1.Close()

	cfg2 := loadConfig(t, filteredScope("price > 0"))
	r2 := newRouter(t, conn, cfg2, 10)
	if sw := r2.Switches(); !slices.Equal(sw, []capture.Switch{{Scope: "s", Version: 2}}) {
		t.Fatalf("changed: Switches() = %v, want s version 2", sw)
	}
	txn(r2, 0x200, nil, 1, 6) // before the switch point: 6 only
	txn(r2, 0x300, &capture.Switch{Scope: "s", Version: 2})
	txn(r2, 0x400, nil, 2) // after it
	drain(t, r2)
	r2.Close() // killed before the checkpoint passed 0x300

	r3 := newRouter(t, conn, cfg2, 10)
	if sw := r3.Switches(); len(sw) != 0 {
		t.Fatalf("switch point recorded: Switches() = %v, want none", sw)
	}
	txn(r3, 0x200, nil, 1, 6)                               // replayed: still by the old filter
	txn(r3, 0x300, &capture.Switch{Scope: "s", Version: 2}) // read again: changes nothing
	txn(r3, 0x350, &capture.Switch{Scope: "s", Version: 2}) // the restart's own: ignored
	txn(r3, 0x400, nil, 2)                                  // stored already
	txn(r3, 0x500, nil, 3)                                  // new
	drain(t, r3)
	r3.Close()

	r4 := newRouter(t, conn, loadConfig(t, filteredScope("price > 3")), 10)
	txn(r4, 0x600, nil, 3, 4) // no Switches(): version 3 from the first transaction on
	drain(t, r4)

	var got []string
	for _, m := range streamMsgs(t, conn.nc, "s") {
		env, err := Decode(m.Data)
		must(t, err)
		got = append(got, fmt.Sprintf("%v@%s/v%d", env.After["id"], env.Source.Pos, env.Scope.Version))
	}
	want := []string{"10@0/100/v1", "6@0/200/v1", "2@0/400/v2", "3@0/500/v2", "4@0/600/v3"}
	if !slices.Equal(got, want) {
		t.Fatalf("stream holds %v, want %v", got, want)
	}
	e, err := r4.scopeKV.Get(ctx, "s")
	must(t, err)
	var rec ScopeRecord
	must(t, json.Unmarshal(e.Value(), &rec))
	if rec.Version != 3 || rec.Switch == nil || *rec.Switch != 0x600 || len(rec.History) != 2 || *rec.History[1].Switch != 0x300 {
		t.Fatalf("scope record %s, want version 3 switched at 0/600 after version 2 at 0/300", e.Value())
	}
}

// TestRouterDiffAfterUnfinishedVersion: a definition whose diff never
// finished, and recorded no chunk, was in effect from its switch point
// on, so the next change deletes every row outside its definition and
// sends every row in it rather than the difference to the last copy done.
func TestRouterDiffAfterUnfinishedVersion(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	r1 := newRouter(t, conn, loadConfig(t, productScope(`where = "price > 5"`)), 10)
	first := r1.Snapshots()
	r1.snapshotStarted(tableKey{scope: "s", table: productTable.ID()})
	must(t, r1.SnapshotDone(ctx, first[0], 1))
	r1.Close()

	r2 := newRouter(t, conn, loadConfig(t, productScope(`where = "price > 0"`)), 10)
	r2.Switches()
	tx := &capture.Txn{ID: "1", Pos: 0x100, Ack: 0x110, CommitTime: time.Now()}
	must(t, r2.Begin(ctx, tx))
	must(t, r2.Switched(ctx, tx, capture.Switch{Scope: "s", Version: 2}))
	must(t, r2.Commit(ctx, tx))
	drain(t, r2)
	r2.Close() // its diff never ran

	reqs := newRouter(t, conn, loadConfig(t, productScope(`where = "price > 3"`)), 10).Snapshots()
	if len(reqs) != 1 {
		t.Fatalf("Snapshots() = %+v, want one", reqs)
	}
	where, exit := render(reqs[0].Where), render(reqs[0].ExitWhere)
	if reqs[0].Truncate || where != `"price" > $1 [3]` || exit != `NOT COALESCE(("price" > $1), FALSE) [3]` {
		t.Fatalf("request truncate %v, where %s, exit where %s; want every row in and every row out of the new filter", reqs[0].Truncate, where, exit)
	}
}

// TestScopeRemovedAndBack: a scope of the router's source that a config
// no longer has is marked removed in its record, a scope of another
// source is not; when it comes back, its snapshot records are forgotten
// (its tables are copied afresh) and the mark is cleared, once.
func TestScopeRemovedAndBack(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	js, err := jetstream.New(conn.nc)
	must(t, err)
	kv, err := openBucket(ctx, js, ScopeBucket, 1)
	must(t, err)
	snaps, err := openBucket(ctx, js, SnapshotBucket, 1)
	must(t, err)
	cfg := loadConfig(t, productScope(""))
	s := cfg.Scopes[0]
	recordVersion(t, kv, s)
	other := ScopeRecord{ScopeVersion: ScopeVersion{Version: 1, Hash: "x", Definition: json.RawMessage(`{"scope":"o","source":"elsewhere"}`)}}
	_, err = kv.Put(ctx, "o", mustJSON(other))
	must(t, err)
	_, err = snaps.Put(ctx, "s.public.product", []byte(`{}`))
	must(t, err)
	removed := func(name string) bool {
		t.Helper()
		e, err := kv.Get(ctx, name)
		must(t, err)
		var rec ScopeRecord
		must(t, json.Unmarshal(e.Value(), &rec))
		return rec.Removed
	}
	forget := func() error { return forgetScope(ctx, snaps, s.Name) }
	back := func() (bool, error) {
		st, err := readScope(ctx, kv, s.Name)
		must(t, err)
		return returning(ctx, kv, s, &st, forget)
	}

	// Still in the config: nothing marked, nothing forgotten.
	marked, err := markRemoved(ctx, kv, cfg, "app")
	must(t, err)
	if isBack, err := back(); err != nil || isBack || len(marked) > 0 {
		t.Fatalf("scope in the config: marked %v, returning %v, %v", marked, isBack, err)
	}
	// Gone from a config of its source: marked, once; the other source's
	// scope is left alone.
	for range 2 {
		marked, err = markRemoved(ctx, kv, loadConfig(t, `source "postgres" "app" { dsn = "postgres://localhost/app" }`), "app")
		must(t, err)
	}
	if !removed("s") || removed("o") || len(marked) != 0 {
		t.Fatalf("after the scope left the config: s removed %v, o removed %v, marked on the second start %v", removed("s"), removed("o"), marked)
	}
	if _, err := snaps.Get(ctx, "s.public.product"); err != nil {
		t.Fatalf("the snapshot record is gone while the scope is out: %v", err)
	}
	// Back: forgotten and cleared.
	isBack, err := back()
	must(t, err)
	if _, gerr := snaps.Get(ctx, "s.public.product"); !isBack || removed("s") || !errors.Is(gerr, jetstream.ErrKeyNotFound) {
		t.Fatalf("scope back: returning %v, still removed %v, snapshot record %v", isBack, removed("s"), gerr)
	}
	if isBack, err := back(); err != nil || isBack {
		t.Fatalf("returning a second time = %v, %v", isBack, err)
	}
}

// recordVersion records s in kv as New does (readScope, scopeVersion)
// and returns its record.
func recordVersion(t testing.TB, kv jetstream.KeyValue, s *scopes.Scope) ScopeRecord {
	t.Helper()
	ctx := context.Background()
	st, err := readScope(ctx, kv, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := scopeVersion(ctx, kv, s, st)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
