// Package retry decides whether and when a session runs again. Capture and
// apply sessions both restart from their last durable checkpoint (the
// source position confirmed after publishing, the target's scope_info
// row), so a session that failed halfway can simply run again: this
// package runs it again with exponential backoff, unless its error is
// marked Terminal, meaning that running it again cannot help.
//
// It imports only the standard library and the backoff package, so that
// capture, router, apply and the daemon can all mark and test errors.
package retry

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// terminalError marks an error that retrying will not cure: a bad setting,
// a missing table or column, a privilege the role lacks.
type terminalError struct{ err error }

func (e *terminalError) Error() string { return e.err.Error() }
func (e *terminalError) Unwrap() error { return e.err }

// Terminal marks err as terminal. It returns nil for nil.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err: err}
}

// IsTerminal reports whether err, or an error it wraps, was marked Terminal.
func IsTerminal(err error) bool {
	var t *terminalError
	return errors.As(err, &t)
}

// Policy is how long to wait before running a failed session again: from
// Initial, growing by half each time up to Max, each wait drawn within
// Jitter (a fraction) of that. A session that ran longer than ResetAfter
// worked for a while, so the wait after it starts again from Initial.
type Policy struct {
	Initial, Max, ResetAfter time.Duration
	Jitter                   float64
}

// Default is the policy of Run: 500 ms growing to 30 s, reset after a
// session of over a minute.
var Default = Policy{Initial: 500 * time.Millisecond, Max: 30 * time.Second, ResetAfter: time.Minute, Jitter: 0.5}

// Run runs Default.Run.
func Run(ctx context.Context, session func(context.Context) error, onRetry func(err error, wait time.Duration)) error {
	return Default.Run(ctx, session, onRetry)
}

// Run runs session until ctx is done or session fails terminally. After
// any other return of session, nil included, it calls onRetry (if not
// nil) with the error and the wait, waits (or returns when ctx is done) and runs session
// again.
//
// Run returns nil once ctx is done, whatever session returned (a canceled
// context always wins), and otherwise the terminal error.
func (p Policy) Run(ctx context.Context, session func(context.Context) error, onRetry func(err error, wait time.Duration)) error {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.Initial),
		backoff.WithMaxInterval(p.Max),
		backoff.WithRandomizationFactor(p.Jitter),
		backoff.WithMaxElapsedTime(0),
	)
	for {
		started := time.Now()
		err := session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if IsTerminal(err) {
			return err
		}
		if time.Since(started) > p.ResetAfter {
			b.Reset()
		}
		wait := b.NextBackOff()
		if onRetry != nil {
			onRetry(err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
