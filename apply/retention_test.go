package apply_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// TestWorkerQuietSpokeRetention: retention on the stream a template's
// spokes share removes a busy spoke's messages and the quiet spoke's
// last, applied one; the quiet spoke's worker resumes and applies its next
// message. Once retention removes one of the quiet spoke's messages it had
// not applied, its worker stops with the messages after its checkpoint
// gone.
func TestWorkerQuietSpokeRetention(t *testing.T) {
	spoke := func(name, region string) string {
		return fmt.Sprintf(`
scope %q {
  source   = "app"
  snapshot = "never"
  targets  = ["t"]
  template = "spoke"
  params   = { r = %q }
}`, name, region)
	}
	g := newRigWith(t, scopes.KindPostgres, `
template "spoke" {
  params = ["r"]
  table "public.product" { where = "name = :r" }
}`+spoke("quiet", "q")+spoke("busy", "b"))
	r := g.router()
	ctx := context.Background()
	var pos capture.Position
	row := func(region string) capture.Position { // one transaction of one row, id pos/100
		t.Helper()
		pos += 100
		txn := &capture.Txn{ID: fmt.Sprint(pos), Pos: pos, Ack: pos + 1, CommitTime: time.Now()}
		must(t, r.Begin(ctx, txn))
		must(t, r.Change(ctx, &capture.Event{Txn: txn, Table: product, Op: capture.OpInsert, After: capture.Row{int32(pos / 100), region}}))
		must(t, r.Commit(ctx, txn))
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		must(t, r.Drain(dctx))
		return pos
	}
	nc, err := nats.Connect(g.nats)
	must(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	must(t, err)
	keep := func(n int64) { // max_msgs: the server removes the oldest at once
		t.Helper()
		s, err := js.Stream(ctx, router.TemplateStreamName("spoke", "app"))
		must(t, err)
		cfg := s.CachedInfo().Config
		cfg.MaxMsgs = n
		_, err = js.UpdateStream(ctx, cfg)
		must(t, err)
	}

	stop := g.run()
	g.appliedThrough(row("q")) // message 1
	stop()
	row("b") // 2 to 4
	row("b")
	row("b")
	keep(2) // messages 1 and 2 go, then one with each message stored
	stop = g.run()
	g.appliedThrough(row("q")) // 5: the quiet spoke's message before it was 1, applied
	stop()

	row("q") // 6, not applied
	row("b") // 7, 8: 5 and 6 go
	row("b")
	g.run()
	row("q") // 9: the quiet spoke's message before it, 6, is gone
	select {
	case err := <-g.done:
		g.done <- err // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatalf("worker still running: %+v", g.worker.Status())
	}
	if st := g.worker.Status(); st.State != apply.StateFailed || !strings.Contains(st.Error, router.ErrCheckpointGone.Error()) {
		t.Fatalf("worker status %+v, want failed with the messages after its checkpoint gone", st)
	}
	if got, want := g.ids("product"), []int{1, 5}; !slices.Equal(got, want) {
		t.Fatalf("product at the target = %v, want %v", got, want)
	}
}
