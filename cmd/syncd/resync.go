package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/cmd/syncd/internal/admin"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// cmdResync asks the running daemon, through its admin server, to copy a
// scope's rows again to its targets (see router.Resync).
func cmdResync(args []string) int {
	fs := flag.NewFlagSet("resync", flag.ContinueOnError)
	config := fs.String("config", "", "config `path`, to find the admin address")
	table := fs.String("table", "", "resync only this `table` of the scope (schema.name, as in the config)")
	target := fs.String("target", "", "resync only this `target` of the scope")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *config == "" || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "syncd resync: want --config PATH and exactly one SCOPE")
		return 2
	}
	q := url.Values{}
	if *table != "" {
		q.Set("table", *table)
	}
	if *target != "" {
		q.Set("target", *target)
	}
	path := "/scopes/" + url.PathEscape(fs.Arg(0)) + "/resync"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return adminCall("resync", *config, http.MethodPost, path)
}

// resyncScope is the admin server's Resync: it checks the scope, table
// and target against the config in effect (cfg's) and records the resync
// in the control bucket, which the routers of the scope's source watch.
func resyncScope(ctl *router.Control, cfg func() *scopes.Config) func(ctx context.Context, name, table, target string) (any, error) {
	return func(ctx context.Context, name, table, target string) (any, error) {
		s := cfg().Scope(name)
		if s == nil {
			return nil, fmt.Errorf("scope %q: %w", name, admin.ErrUnknownScope)
		}
		var id capture.TableID
		if table != "" {
			i := slices.IndexFunc(s.Tables, func(st *scopes.Table) bool { return st.ID.String() == table })
			if i < 0 {
				return nil, fmt.Errorf("scope %q has no table %q: %w", name, table, admin.ErrUnknownScope)
			}
			id = s.Tables[i].ID
		}
		if target != "" && !slices.Contains(s.Targets, target) {
			return nil, fmt.Errorf("scope %q has no target %q: %w", name, target, admin.ErrUnknownScope)
		}
		return ctl.Resync(ctx, name, id, target)
	}
}
