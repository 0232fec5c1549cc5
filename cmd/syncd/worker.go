package main

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
)

// Worker states, as /scopes and /readyz show them.
const (
	stateStarting  = "starting"
	stateStreaming = "streaming"
	stateRetrying  = "retrying"
	stateFailed    = "failed" // a terminal error; needs an operator
)

// engine is what the daemon needs of one capture engine's source.
type engine interface {
	capture.Source
	// Prepare checks the source and creates what capture needs (for
	// PostgreSQL the publication and slot). Errors marked
	// retry.Terminal mean bad settings or input.
	Prepare(ctx context.Context) error
	// Health returns the engine's status document and, if the source
	// risks losing log that syncd still needs, why.
	Health() (status any, connected bool, retentionRisk string)
}

// unprovisioner is an engine whose Prepare can create things on the
// source (a PostgreSQL slot and publication). Unprovision drops only
// what this process's Prepare created; a start that fails calls it.
type unprovisioner interface {
	Unprovision(ctx context.Context) error
}

// worker runs one source's capture sessions. Each session gets a new
// Router, which reads from the streams what is already stored, so a
// session that failed halfway loses and duplicates nothing.
type worker struct {
	name      string
	kind      string
	scopes    []string
	src       engine
	newRouter func(ctx context.Context) (*router.Router, error)
	log       hclog.Logger

	mu     sync.Mutex
	router *router.Router
	state  string
	err    error
}

// run runs sessions until ctx is done or one fails terminally; it retries
// other failures with exponential backoff. It returns nil in both cases:
// a failed source must not stop the others.
func (w *worker) run(ctx context.Context) error {
	err := retry.Run(ctx, w.session, func(err error, wait time.Duration) {
		w.set(stateRetrying, err)
		w.log.Error("capture session ended; retrying", "error", err, "retry_in", wait)
	})
	if err != nil {
		w.set(stateFailed, err)
		w.log.Error("source stopped; fix the cause and restart syncd", "error", err)
	}
	return nil
}

// session runs one capture session. Its router is the worker's only while
// the session runs: once it ends, readiness and /scopes report the scopes
// as not publishing rather than the dead router's last state.
func (w *worker) session(ctx context.Context) error {
	w.set(stateStarting, nil)
	r, err := w.newRouter(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	w.mu.Lock()
	w.router, w.state = r, stateStreaming
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.router = nil
		w.mu.Unlock()
	}()
	return w.src.Run(ctx, r)
}

func (w *worker) set(state string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state, w.err = state, err
}

// snapshot returns the worker's state, last error and the router of the
// session running, nil between sessions.
func (w *worker) snapshot() (string, error, *router.Router) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state, w.err, w.router
}
