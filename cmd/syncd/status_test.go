package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/cmd/syncd/internal/admin"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// fakeEngine is a source whose health the test decides. Readiness never
// runs a source, so capture.Source stays nil.
type fakeEngine struct {
	capture.Source
	health func() (status any, connected bool, retentionRisk string)
}

func (e fakeEngine) Prepare(context.Context) error { return nil }
func (e fakeEngine) Health() (any, bool, string)   { return e.health() }

var readinessItem = &capture.Table{Schema: "public", Name: "item",
	Columns: []capture.Column{{Name: "id", Type: "integer"}}, Key: []int{0}}

// TestReadinessCauses checks what /readyz makes of a streaming source
// whose engine reports a retention risk (log_retention_at_risk, with the
// engine's words) and of a scope whose publishing failed (publish_failed,
// with the router's error), against a real NATS server and a real router
// whose stream someone else wrote to. Healthy, the same pipeline is ready.
func TestReadinessCauses(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartNATS(t)
	nc, err := router.Connect(scopes.NATS{URL: srv.URL}, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctl, err := nc.Control(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Close)
	cfg := loadReloadConfig(t, `
source "postgres" "app" { dsn = "postgres://syncd@db/app" }
scope "items" {
  source   = "app"
  snapshot = "never"
  table "public.item" {}
}`)
	r, err := router.New(ctx, nc, cfg, router.SourceInfo{Kind: "postgres", Name: "app", DB: "app"},
		router.Options{BatchSize: 10, Logger: hclog.NewNullLogger(), AckTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })

	risk := ""
	src := fakeEngine{health: func() (any, bool, string) { return nil, true, risk }}
	p := &pipeline{cfg: cfg, workers: []*worker{{name: "app", kind: "postgres", scopes: []string{"items"}, src: src, state: stateStreaming, router: r}}}
	check := func(what string, want []admin.Cause) {
		t.Helper()
		if got := readiness(nc, ctl, p); !slices.Equal(got, want) {
			t.Errorf("%s: causes %+v, want %+v", what, got, want)
		}
	}

	if err := readinessTxn(ctx, r, 100, 1); err != nil {
		t.Fatal(err)
	}
	check("healthy", nil)

	risk = "resumes from mariadb-bin.000003, the oldest of the 3 binlog files"
	check("retention at risk", []admin.Cause{{Component: "source/app", Cause: "log_retention_at_risk", Detail: risk}})
	risk = ""

	// A message in the stream that the router did not send makes its
	// next publish fail; the router keeps the error in Status.
	if _, err := srv.Connect(t).Request("syncd.items.app.public.item.c", []byte("{}"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := readinessTxn(ctx, r, 200, 2); err == nil || !strings.Contains(err.Error(), "last sequence") {
		t.Fatalf("publishing after a foreign write: %v, want a wrong last sequence error", err)
	}
	st := r.Status()
	if len(st) != 1 || st[0].Error == "" {
		t.Fatalf("router status %+v, want the publish error", st)
	}
	check("publishing failed", []admin.Cause{{Component: "scope/items", Cause: "publish_failed", Detail: st[0].Error}})
}

// readinessTxn publishes a source transaction of one insert at pos and
// waits until it is stored, or publishing fails.
func readinessTxn(ctx context.Context, r *router.Router, pos capture.Position, id int32) error {
	txn := &capture.Txn{ID: fmt.Sprint(pos), Pos: pos, Ack: pos + 1, CommitTime: time.Now()}
	if err := r.Begin(ctx, txn); err != nil {
		return err
	}
	if err := r.Change(ctx, &capture.Event{Txn: txn, Table: readinessItem, Op: capture.OpInsert, After: capture.Row{id}}); err != nil {
		return err
	}
	if err := r.Commit(ctx, txn); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return r.Drain(ctx)
}
