package main

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// sharedTables returns whether a scope of cfg other than scope writes
// target table id at target: such a table is kept when one of its
// writers leaves the config, whatever the target's removed_tables says.
func sharedTables(cfg *scopes.Config, target, scope string) func(capture.TableID) bool {
	written := map[capture.TableID]bool{}
	for _, s := range cfg.Scopes {
		if s.Name == scope || !slices.Contains(s.Targets, target) {
			continue
		}
		for _, t := range s.Tables {
			written[t.Target] = true
		}
	}
	return func(id capture.TableID) bool { return written[id] }
}

// removedHere reports whether cfg removed scope s, recorded and not in
// cfg: only if cfg still reads s's source. Several daemons may share one
// NATS server, each with the scopes of its own sources, and a scope of
// another daemon is not one this config removed. So a scope removed in
// the same reload as its source keeps its tables.
func removedHere(cfg *scopes.Config, s *scopes.Scope) bool {
	return cfg.Scope(s.Name) == nil && cfg.Source(s.Source) != nil
}

// errEmptied ends the retries of emptyRemovedScopes once it succeeded.
var errEmptied = errors.New("removed scopes emptied")

// emptyRemovedScopes empties, at each target of cfg with removed_tables =
// "empty", the tables of the scopes that syncd recorded (router.ScopeBucket)
// and cfg removed (removedHere; apply.EmptyRemovedScope). Tables of scopes still
// configured are emptied by their apply workers. It retries with backoff
// until done or ctx ends, and returns nil: a target it cannot reach does
// not stop the daemon, and the next start tries again.
func emptyRemovedScopes(ctx context.Context, cfg *scopes.Config, nc *router.Conn, log hclog.Logger) error {
	var targets []*scopes.Target
	for _, t := range cfg.Targets {
		if t.RemovedTables == scopes.RemovedEmpty {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	err := retry.Run(ctx, func(ctx context.Context) error {
		recorded, err := nc.RecordedScopes(ctx)
		if err != nil {
			return err
		}
		for name, rec := range recorded {
			if cfg.Scope(name) != nil {
				continue
			}
			old, err := scopes.ParseDefinition(rec.Definition)
			if err != nil {
				log.Warn("cannot read the recorded definition of a removed scope: not emptying its tables", "scope", name, "error", err)
				continue
			}
			if !removedHere(cfg, old) {
				continue
			}
			for _, t := range targets {
				tlog := log.With("scope", name, "target", t.Name)
				w, err := newTarget(t, capture.SyncdOrigin(old.Source, name, t.Name), tlog)
				if err != nil {
					return retry.Terminal(err)
				}
				_, err = apply.EmptyRemovedScope(ctx, nc, w, name, old.Source, sharedTables(cfg, t.Name, name), version, tlog)
				w.Close()
				if err != nil {
					return err
				}
			}
		}
		return retry.Terminal(errEmptied)
	}, func(err error, wait time.Duration) {
		log.Warn("cannot empty the tables of removed scopes yet; retrying", "error", err, "retry_in", wait)
	})
	if err != nil && !errors.Is(err, errEmptied) {
		log.Error("cannot empty the tables of removed scopes; the next start tries again", "error", err)
	}
	return nil
}
