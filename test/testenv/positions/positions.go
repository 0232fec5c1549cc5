// Package positions gives tests the store where sources keep their state
// (router.Positions) on a NATS server of the test's own. It lives apart
// from testenv because router's own tests use testenv.
package positions

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// Start starts a NATS server for the test and returns the position store
// on it. Both go when the test ends.
func Start(t *testing.T) *router.Positions {
	t.Helper()
	srv := testenv.StartNATS(t)
	conn, err := router.Connect(scopes.NATS{URL: srv.URL}, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := conn.Positions(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	return store
}
