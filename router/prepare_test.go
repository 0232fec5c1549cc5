//go:build unix

package router

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestRouterPreparesManySpokes starts a router on 40 spoke scopes, whose
// streams, versions and first-row schemas it prepares several at a time,
// publishes one transaction giving spoke i i+1 rows, and starts a second
// router after every third spoke's definition changed: each publisher must
// have its own scope's version and resume point, on the stream the spokes
// share, and each
// scope its schema record, however the concurrent preparations finished.
func TestRouterPreparesManySpokes(t *testing.T) {
	const n = 40
	config := func(changed bool) string {
		return spokesConfigWith(n, func(i int) string {
			if changed && i%3 == 0 {
				return fmt.Sprintf("r%dx", i) // a new definition
			}
			return fmt.Sprintf("r%d", i)
		})
	}
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx := context.Background()

	r := newRouter(t, conn, loadConfig(t, config(false)), 0)
	txn := &capture.Txn{ID: "1", Pos: 100, Ack: 110, CommitTime: time.Now()}
	if err := r.Begin(ctx, txn); err != nil {
		t.Fatal(err)
	}
	var id int64
	for i := range n {
		for range i + 1 {
			id++
			ev := &capture.Event{Txn: txn, Table: spokeTable, Op: capture.OpInsert, After: capture.Row{id, fmt.Sprintf("r%d", i), "note"}}
			if err := r.Change(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.Commit(ctx, txn); err != nil {
		t.Fatal(err)
	}
	drainDurable(t, r, txn)
	r.Close()
	for i := range n {
		scope := fmt.Sprintf("spoke%d", i)
		schemas, err := conn.TableSchemas(ctx, scope)
		if err != nil {
			t.Fatal(err)
		}
		if schemas[spokeTable.ID()] == nil {
			t.Errorf("scope %s: no schema recorded for %s after its first row", scope, spokeTable.ID())
		}
	}

	r = newRouter(t, conn, loadConfig(t, config(true)), 0)
	defer r.Close()
	for i := range n {
		scope := fmt.Sprintf("spoke%d", i)
		p := r.pubs[scope]
		want := 1
		if i%3 == 0 {
			want = 2
		}
		if p.scope != scope || p.w.stream != TemplateStreamName("spoke", "app") {
			t.Fatalf("publisher of scope %s is for scope %s, stream %s", scope, p.scope, p.w.stream)
		}
		if v := r.versions[scope]; v != want {
			t.Errorf("scope %s: version %d, want %d", scope, v, want)
		}
		if p.w.expected != n*(n+1)/2 || !p.resume.ok || p.resume.pos != txn.Pos || p.resume.seq != i+1 {
			t.Errorf("scope %s: expects stream end %d, resumes after %s, want %d and %s:%d", scope, p.w.expected, resumeText(p.resume), n*(n+1)/2, txn.Pos, i+1)
		}
	}
}
