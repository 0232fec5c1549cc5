package router

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestControlPause: a pause shows at once in another Control's State
// (its change channel closes), keeps its time when repeated, survives
// a new connection, and a resume ends it everywhere.
func TestControlPause(t *testing.T) {
	srv := testenv.StartNATS(t)
	ctx := context.Background()
	_, a := openControl(t, srv.URL)
	_, b := openControl(t, srv.URL)
	paused, changed := b.Paused("orders")
	if paused {
		t.Fatal("scope orders paused before anyone paused it")
	}
	p, err := a.Pause(ctx, "orders")
	if err != nil || !p.Paused || p.Since.IsZero() {
		t.Fatalf("Pause = %+v, %v; want paused with its time", p, err)
	}
	waitClosed(t, changed, "b's change channel of orders after a paused it")
	if got, _ := b.State("orders"); got != p {
		t.Fatalf("b.State(orders) = %+v, want %+v", got, p)
	}
	if paused, _ := b.Paused("items"); paused {
		t.Fatal("pausing orders paused items")
	}
	again, err := a.Pause(ctx, "orders")
	if err != nil || again != p {
		t.Fatalf("Pause of a paused scope = %+v, %v; want the first pause %+v", again, err, p)
	}

	_, c := openControl(t, srv.URL) // as after a restart
	if got, _ := c.State("orders"); got != p {
		t.Fatalf("a new Control's State(orders) = %+v, want %+v", got, p)
	}
	_, changed = c.Paused("orders")
	if _, err := b.Resume(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, changed, "c's change channel of orders after b resumed it")
	for name, ctl := range map[string]*Control{"a": a, "b": b, "c": c} {
		if paused, ch := ctl.Paused("orders"); paused {
			waitClosed(t, ch, name+"'s change channel of orders")
		}
		if paused, _ := ctl.Paused("orders"); paused {
			t.Fatalf("%s: orders still paused after it was resumed", name)
		}
	}
	if _, err := a.Resume(ctx, "orders"); err != nil {
		t.Fatalf("Resume of a scope not paused: %v", err)
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s not closed within 10s", what)
	}
}

// TestControlWatchSurvivesRestart: a Control whose NATS server restarted
// still sees a pause made afterwards, so a running daemon keeps obeying
// `syncd pause`.
func TestControlWatchSurvivesRestart(t *testing.T) {
	srv := testenv.StartNATS(t)
	ctx := context.Background()
	c, ctl := openControl(t, srv.URL)
	srv.Restart(t)
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		if ok, state := c.Connected(); !ok {
			return fmt.Errorf("not reconnected: %s", state)
		}
		return nil
	})
	_, changed := ctl.Paused("orders")
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		_, err := ctl.Pause(ctx, "orders") // fails until JetStream is back
		return err
	})
	waitClosed(t, changed, "the change channel of orders after a pause following a server restart")
	if paused, _ := ctl.Paused("orders"); !paused {
		t.Fatal("orders not paused after the pause")
	}
}

// openControl connects to the NATS server at url and opens a Control;
// the test's end closes both.
func openControl(t *testing.T, url string) (*Conn, *Control) {
	t.Helper()
	c, err := Connect(scopes.NATS{URL: url}, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctl, err := c.Control(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Close)
	return c, ctl
}
