package router

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

func targetsScope(targets string) string {
	return `
source "postgres" "app" { dsn = "postgres://localhost/app" }
target "postgres" "a" { dsn = "postgres://localhost/a" }
target "postgres" "b" { dsn = "postgres://localhost/b" }
scope "s" {
  source  = "app"
  targets = ` + targets + `
  table "public.product" { where = "price > 0" }
}`
}

// copyTxn passes req's snapshot to r as a source would: one snapshot
// transaction at pos, a truncate and a read per id, and records it done.
func copyTxn(t *testing.T, r *Router, req capture.SnapshotRequest, pos capture.Position, ids ...int32) {
	t.Helper()
	ctx := context.Background()
	txn := &capture.Txn{ID: "snapshot", Pos: pos, Ack: pos, Snapshot: true, CommitTime: time.Now()}
	must(t, r.Begin(ctx, txn))
	must(t, r.Change(ctx, &capture.Event{Txn: txn, Table: productTable, Op: capture.OpTruncate, Scope: req.Scope}))
	for _, id := range ids {
		must(t, r.Change(ctx, &capture.Event{Txn: txn, Table: productTable, Op: capture.OpRead, After: capture.Row{id, "n", capture.Decimal("1"), nil}, Scope: req.Scope}))
	}
	must(t, r.Commit(ctx, txn))
	drain(t, r)
	must(t, r.SnapshotDone(ctx, req, int64(len(ids))))
}

// describeStream returns scope s's messages as op:reason:target:id, the
// target from the Syncd-Target header, which must agree with the body's.
func describeStream(t *testing.T, r *Router, conn *Conn) []string {
	t.Helper()
	var got []string
	for _, m := range streamMsgs(t, conn.nc, "s") {
		rows, err := DecodeRows(m.Data)
		must(t, err)
		for _, e := range rows {
			if e.Scope.Target != m.Header.Get(HeaderTarget) {
				t.Errorf("message %d: scope.target %q, Syncd-Target %q", m.Sequence, e.Scope.Target, m.Header.Get(HeaderTarget))
			}
			id := "-"
			if e.After != nil {
				id = string(e.After["id"])
			}
			got = append(got, fmt.Sprintf("%s:%s:%s:%s", e.Op, e.Scope.Reason, e.Scope.Target, id))
		}
	}
	return got
}

// TestRouterTargetAdded: a target added to a scope gets a copy of its
// own, stamped for it (reason resync, scope.target, Syncd-Target); once
// done, it is recorded and not taken again; a target removed and added
// again gets a copy again.
func TestRouterTargetAdded(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	r := newRouter(t, conn, loadConfig(t, targetsScope(`["a"]`)), 10)
	reqs := r.Snapshots()
	if len(reqs) != 1 || reqs[0].Target != "" || !reqs[0].Truncate {
		t.Fatalf("first Snapshots() = %+v, want one truncating copy for every target", reqs)
	}
	copyTxn(t, r, reqs[0], 100, 1, 2)
	r.Close()

	ctx := context.Background()
	for i, cut := range []bool{true, false} {
		r = newRouter(t, conn, loadConfig(t, targetsScope(`["a", "b"]`)), 10)
		reqs = r.Snapshots()
		if len(reqs) != 1 || reqs[0].Target != "b" || !reqs[0].Truncate || render(reqs[0].Where) != `"price" > $1 [0]` {
			t.Fatalf("Snapshots() with target b added (run %d) = %+v, want one copy for b", i, reqs)
		}
		if aware, err := conn.AwaitsCopies(ctx, r.scopes[0], "b", 1); err != nil || !aware {
			t.Fatalf("AwaitsCopies(b) = %v, %v before its copy is done, want true", aware, err)
		}
		if due, err := conn.SnapshotsDueAt(ctx, r.scopes[0], "b"); err != nil || len(due) != 1 {
			t.Fatalf("SnapshotsDueAt(b) = %v, %v before its copy is done, want the table", due, err)
		}
		if due, err := conn.SnapshotsDueAt(ctx, r.scopes[0], "a"); err != nil || len(due) != 0 {
			t.Fatalf("SnapshotsDueAt(a) = %v, %v, want none", due, err)
		}
		if cut { // syncd stops before the copy is done: the next start takes it again
			txn := &capture.Txn{ID: "snapshot", Pos: 150, Ack: 150, Snapshot: true}
			must(t, r.Begin(ctx, txn))
			must(t, r.Change(ctx, &capture.Event{Txn: txn, Table: productTable, Op: capture.OpTruncate, Scope: "s"}))
			must(t, r.Flush(ctx))
			drain(t, r)
			r.Close()
			continue
		}
		copyTxn(t, r, reqs[0], 200, 1, 2)
	}
	if aware, err := conn.AwaitsCopies(ctx, r.scopes[0], "b", 1); err != nil || aware {
		t.Fatalf("AwaitsCopies(b) = %v, %v after its copy, want false", aware, err)
	}
	if due, err := conn.SnapshotsDueAt(ctx, r.scopes[0], "b"); err != nil || len(due) != 0 {
		t.Fatalf("SnapshotsDueAt(b) = %v, %v after its copy, want none", due, err)
	}
	want := "t:snapshot::- r:snapshot::1 r:snapshot::2 t:resync:b:- r:resync:b:1 r:resync:b:2"
	if got := strings.Join(describeStream(t, r, conn), " "); got != want {
		t.Errorf("stream holds %s\nwant %s", got, want)
	}
	r.Close()

	if again := newRouter(t, conn, loadConfig(t, targetsScope(`["a", "b"]`)), 10).Snapshots(); len(again) != 0 {
		t.Fatalf("after the copy for b, a new router asks for %+v", again)
	}
	if again := newRouter(t, conn, loadConfig(t, targetsScope(`["b"]`)), 10).Snapshots(); len(again) != 0 {
		t.Fatalf("with target a removed, a new router asks for %+v", again)
	}
	if again := newRouter(t, conn, loadConfig(t, targetsScope(`["a", "b"]`)), 10).Snapshots(); len(again) != 1 || again[0].Target != "a" {
		t.Fatalf("with target a back, a new router asks for %+v, want a copy for a", again)
	}
}

// TestRouterResync: a resync recorded in the control bucket while a
// router runs reaches it through SnapshotsAdded; its copies, one per
// target, are handed out one at a time per table; live changes go on to
// every target meanwhile; when the last is done, the resync leaves the
// bucket.
func TestRouterResync(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	ctl, err := conn.Control(ctx, 1)
	must(t, err)
	t.Cleanup(ctl.Close)
	r, err := New(ctx, conn, loadConfig(t, targetsScope(`["a", "b"]`)), SourceInfo{Kind: "postgres", Name: "app", DB: "app"},
		Options{BatchSize: 10, Logger: hclog.NewNullLogger(), AckTimeout: 10 * time.Second, Resyncs: ctl})
	must(t, err)
	t.Cleanup(func() { r.Close() })
	reqs := r.Snapshots()
	copyTxn(t, r, reqs[0], 100, 1)

	rs, err := ctl.Resync(ctx, "s", capture.TableID{}, "")
	must(t, err)
	var got []string
	for pos := capture.Position(200); len(got) < 2; pos += 100 {
		select {
		case <-r.SnapshotsAdded():
		case <-time.After(10 * time.Second):
			t.Fatalf("no signal of added snapshots; have %v", got)
		}
		added := r.AddedSnapshots()
		if len(added) > 1 {
			t.Fatalf("AddedSnapshots() = %+v, want at most one for the table", added)
		}
		if len(added) == 0 {
			continue
		}
		got = append(got, added[0].Target)
		if len(got) == 1 {
			copies := r.Status()[0].Copies
			if len(copies) != 2 || copies[0].Target != "a" || copies[1].Target != "b" || copies[0].State != "waiting" || len(copies[0].Resyncs) != 1 {
				t.Fatalf("Status().Copies = %+v, want a and b waiting for resync %s", copies, rs.ID)
			}
			// A live change while the copy waits goes to every target.
			f := &feeder{t: t, r: r, pos: pos - 50, nextID: 1}
			f.txn(1, true)
		}
		copyTxn(t, r, added[0], pos, 1)
	}
	if strings.Join(got, " ") != "a b" {
		t.Fatalf("copies for targets %v, want a then b", got)
	}
	want := "t:snapshot::- r:snapshot::1 c:change::2 t:resync:a:- r:resync:a:1 t:resync:b:- r:resync:b:1"
	if got := strings.Join(describeStream(t, r, conn), " "); got != want {
		t.Errorf("stream holds %s\nwant %s", got, want)
	}
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if left := ctl.Resyncs(); len(left) != 0 {
			return fmt.Errorf("resyncs under way %+v after every copy of %s was done", left, rs.ID)
		}
		return nil
	})
	if again := r.AddedSnapshots(); len(again) != 0 {
		t.Fatalf("AddedSnapshots() after the resync = %+v", again)
	}

	// A resync of a target the scope no longer has asks for nothing and
	// leaves the bucket.
	_, err = ctl.Resync(ctx, "s", capture.TableID{}, "gone")
	must(t, err)
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if added := r.AddedSnapshots(); len(added) != 0 {
			t.Fatalf("AddedSnapshots() for a target the scope lacks = %+v", added)
		}
		if left := ctl.Resyncs(); len(left) != 0 {
			return fmt.Errorf("resyncs under way %+v, want the one for target gone dropped", left)
		}
		return nil
	})
	if copies := r.Status()[0].Copies; len(copies) != 0 {
		t.Fatalf("Status().Copies = %+v after the resync, want none", copies)
	}
}

// TestRouterResyncSurvivesRestart: a resync that a router took but did
// not finish is still in the control bucket, with the copies done so
// far, and the next router takes the others at its start.
func TestRouterResyncSurvivesRestart(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	ctl, err := conn.Control(ctx, 1)
	must(t, err)
	t.Cleanup(ctl.Close)
	cfg := loadConfig(t, targetsScope(`["a", "b"]`))
	start := func() *Router {
		r, err := New(ctx, conn, cfg, SourceInfo{Kind: "postgres", Name: "app", DB: "app"},
			Options{BatchSize: 10, Logger: hclog.NewNullLogger(), AckTimeout: 10 * time.Second, Resyncs: ctl})
		must(t, err)
		t.Cleanup(func() { r.Close() })
		return r
	}
	r := start()
	copyTxn(t, r, r.Snapshots()[0], 100, 1)
	rs, err := ctl.Resync(ctx, "s", productTable.ID(), "")
	must(t, err)
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if len(ctl.Resyncs()) != 1 {
			return fmt.Errorf("resyncs %+v, want %s", ctl.Resyncs(), rs.ID)
		}
		return nil
	})
	added := r.AddedSnapshots()
	if len(added) != 1 || added[0].Target != "a" {
		t.Fatalf("AddedSnapshots() = %+v, want the copy for a", added)
	}
	copyTxn(t, r, added[0], 150, 1)
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if left := ctl.Resyncs(); len(left) != 1 || strings.Join(left[0].Done, " ") != "a/public.product" {
			return fmt.Errorf("resyncs %+v, want %s with a's copy done", left, rs.ID)
		}
		return nil
	})
	r.Close() // stopped before the copy for b

	r = start()
	reqs := r.Snapshots()
	if len(reqs) != 1 || reqs[0].Target != "b" || reqs[0].Table != productTable.ID() {
		t.Fatalf("Snapshots() after a restart = %+v, want the resync's copy for b again", reqs)
	}
	copyTxn(t, r, reqs[0], 200, 1)
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if left := ctl.Resyncs(); len(left) != 0 {
			return fmt.Errorf("resyncs under way %+v after its copy was done", left)
		}
		return nil
	})
}
