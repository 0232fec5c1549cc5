package apply

import (
	"context"
	"errors"
)

// Gate says whether an operator paused a scope (`syncd pause`).
// router.Control is one.
type Gate interface {
	// Paused reports whether scope is paused, and returns a channel that
	// is closed when that changes.
	Paused(scope string) (paused bool, changed <-chan struct{})
}

// StatePaused is the state of a worker whose scope is paused: it holds,
// applying nothing and not touching its target, until the scope is
// resumed, then goes on from its checkpoint.
const StatePaused = "paused"

// errPaused: the scope was paused; the session stopped at a source
// transaction boundary, with what it had read committed.
var errPaused = errors.New("scope paused")

// hold waits while the worker's scope is paused, with the worker in
// StatePaused, and returns nil once it is not, or ctx's error when ctx
// is done. Without a Gate it returns at once.
func (w *Worker) hold(ctx context.Context) error {
	if w.cfg.Gate == nil {
		return nil
	}
	held := false
	for {
		paused, changed := w.cfg.Gate.Paused(w.cfg.Scope.Name)
		if !paused {
			if held {
				w.log.Info("scope resumed; applying from the checkpoint")
			}
			return nil
		}
		if !held {
			held = true
			w.update(func(s *Status) { s.State, s.Error = StatePaused, "" })
			w.log.Info("scope paused; holding until it is resumed")
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pausing follows the worker's scope's paused state for a consume loop,
// without blocking.
type pausing struct {
	gate    Gate
	scope   string
	paused  bool
	changed <-chan struct{} // nil without a gate: never closed
}

func (w *Worker) pausing() *pausing {
	p := &pausing{gate: w.cfg.Gate, scope: w.cfg.Scope.Name}
	if p.gate != nil {
		p.paused, p.changed = p.gate.Paused(p.scope)
	}
	return p
}

// now reports whether the scope is paused.
func (p *pausing) now() bool {
	select {
	case <-p.changed:
		p.paused, p.changed = p.gate.Paused(p.scope)
	default:
	}
	return p.paused
}
