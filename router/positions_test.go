package router

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

func TestPositionsSurviveReconnect(t *testing.T) {
	srv := testenv.StartNATS(t)
	ctx := context.Background()
	open := func() *Positions {
		c, err := Connect(scopes.NATS{URL: srv.URL}, hclog.NewNullLogger(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		p, err := c.Positions(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := open()
	if got, err := p.Load(ctx, "shop"); err != nil || got != nil {
		t.Fatalf("Load before Save = %q, %v; want nil, nil", got, err)
	}
	for _, v := range []string{`{"gtid":"0-1-1"}`, `{"gtid":"0-1-2"}`} {
		if err := p.Save(ctx, "shop", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Save(ctx, "other-source", []byte("x")); err != nil {
		t.Fatal(err)
	}
	srv.Restart(t)
	got, err := open().Load(ctx, "shop")
	if err != nil || string(got) != `{"gtid":"0-1-2"}` {
		t.Fatalf("Load after restart = %q, %v; want the last saved position", got, err)
	}
	if err := p.Delete(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if got, err := open().Load(ctx, "shop"); err != nil || got != nil {
		t.Fatalf("Load after Delete = %q, %v; want nil, nil", got, err)
	}
}
