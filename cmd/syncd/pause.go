package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd-dev/syncd/cmd/syncd/internal/admin"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// cmdPause and cmdResume pause and resume a scope of the running daemon
// through its admin server.
func cmdPause(args []string) int  { return cmdControl("pause", args) }
func cmdResume(args []string) int { return cmdControl("resume", args) }

func cmdControl(action string, args []string) int {
	fs := flag.NewFlagSet(action, flag.ContinueOnError)
	config := fs.String("config", "", "config `path`, to find the admin address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *config == "" || fs.NArg() != 1 {
		fmt.Fprintf(os.Stderr, "syncd %s: want --config PATH and exactly one SCOPE\n", action)
		return 2
	}
	return adminCall(action, *config, http.MethodPost, "/scopes/"+url.PathEscape(fs.Arg(0))+"/"+action)
}

// pauseState is the answer of the admin server's pause and resume.
type pauseState struct {
	Scope string `json:"scope"`
	router.Pause
}

// pauseScope is the admin server's Pause: it pauses or resumes a scope
// of the config in effect (cfg's) in the control bucket, which the apply
// workers watch.
func pauseScope(ctl *router.Control, cfg func() *scopes.Config) func(ctx context.Context, name string, pause bool) (any, error) {
	return func(ctx context.Context, name string, pause bool) (any, error) {
		if cfg().Scope(name) == nil {
			return nil, fmt.Errorf("scope %q: %w", name, admin.ErrUnknownScope)
		}
		var p router.Pause
		var err error
		if pause {
			p, err = ctl.Pause(ctx, name)
		} else {
			p, err = ctl.Resume(ctx, name)
		}
		if err != nil {
			return nil, err
		}
		return pauseState{Scope: name, Pause: p}, nil
	}
}

// registerPaused exports syncd_scope_paused, 1 for each paused scope of
// cfg and 0 for the others, read from ctl at each scrape. reg is the
// pipeline's: a reload's scopes replace cfg's.
func registerPaused(reg prometheus.Registerer, ctl *router.Control, cfg *scopes.Config) {
	for _, s := range cfg.Scopes {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "syncd_scope_paused",
			Help:        "1 while the scope is paused (syncd pause): its targets receive nothing, its stream grows.",
			ConstLabels: prometheus.Labels{"scope": s.Name},
		}, func() float64 {
			if paused, _ := ctl.Paused(s.Name); paused {
				return 1
			}
			return 0
		}))
	}
}
