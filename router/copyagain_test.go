package router

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestRouterCopyAgain: the changes of one table are lost (SQL Server
// change tracking). CopyAgain refuses unless every scope covering the
// table has snapshot = "when_needed", naming those that do not and no
// other; then each target of those scopes gets a copy of the table for
// it alone (a truncate, applied as a delete, and its rows, reason
// resync), one at a time, also after a restart before they are done; the
// scope's first copy is not sent again, nor is the table of a scope that
// does not cover it.
func TestRouterCopyAgain(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()
	lost := errors.New("changes of public.product since version 7 are no longer tracked")
	product := []capture.TableID{productTable.ID()}

	refuse := loadConfig(t, `
source "sqlserver" "app" { dsn = "sqlserver://localhost?database=app" }
scope "s" {
  source   = "app"
  snapshot = "when_needed"
  table "public.product" {}
}
scope "c" {
  source = "app"
  table "public.product" {}
}
scope "o" {
  source = "app"
  table "public.other" {}
}`)
	err := newRouter(t, conn, refuse, 10).CopyAgain(ctx, product, lost)
	if err == nil || !strings.Contains(err.Error(), `c (snapshot = "initial")`) || strings.Contains(err.Error(), "s (") || strings.Contains(err.Error(), "o (") {
		t.Fatalf("CopyAgain with scope c not allowing it: %v, want c named, and only c", err)
	}

	cfg := loadConfig(t, `
source "sqlserver" "app" { dsn = "sqlserver://localhost?database=app" }
target "postgres" "a" { dsn = "postgres://localhost/a" }
target "postgres" "b" { dsn = "postgres://localhost/b" }
scope "s" {
  source   = "app"
  targets  = ["a", "b"]
  snapshot = "when_needed"
  table "public.product" {}
}
scope "o" {
  source  = "app"
  targets = ["a"]
  table "public.other" {}
}`)
	r := newRouter(t, conn, cfg, 10)
	for _, req := range r.Snapshots() {
		if req.Scope == "s" {
			copyTxn(t, r, req, 100, 1)
			continue
		}
		r.snapshotStarted(tableKey{scope: req.Scope, table: req.Table})
		must(t, r.SnapshotDone(ctx, req, 0))
	}
	must(t, r.CopyAgain(ctx, product, lost))
	must(t, r.CopyAgain(ctx, product, lost)) // again before the copies: nothing more
	r.Close()

	for i, target := range []string{"a", "b"} {
		r = newRouter(t, conn, cfg, 10)
		reqs := r.Snapshots()
		if len(reqs) != 1 || reqs[0].Scope != "s" || reqs[0].Table != productTable.ID() || reqs[0].Target != target || !reqs[0].Truncate {
			t.Fatalf("Snapshots() after CopyAgain and %d copies = %+v, want the copy of public.product in scope s for target %s alone", i, reqs, target)
		}
		copyTxn(t, r, reqs[0], capture.Position(200+100*i), 2)
		r.Close()
	}
	r = newRouter(t, conn, cfg, 10)
	if reqs := r.Snapshots(); len(reqs) != 0 {
		t.Fatalf("after the copies, a new router asks for %+v", reqs)
	}
	want := "t:snapshot::- r:snapshot::1 t:resync:a:- r:resync:a:2 t:resync:b:- r:resync:b:2"
	if got := strings.Join(describeStream(t, r, conn), " "); got != want {
		t.Errorf("stream holds %s\nwant %s", got, want)
	}
}
