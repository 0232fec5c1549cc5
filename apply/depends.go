package apply

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// StateWaiting is the state of a worker that waits for the scopes its
// scope depends on (depends_on) to finish their initial snapshots at its
// target; Status.WaitingFor names them. It is expected at start and is
// not a failure.
const StateWaiting = "waiting"

// Commits tells the apply workers of one daemon of each other's commits,
// so that a worker can wait for its scope's dependencies at its target
// without polling. A nil *Commits tells nothing, so a worker with
// dependencies needs one: each waits for commits of its dependencies'
// workers (see Worker.waitDependencies).
type Commits struct {
	mu   sync.Mutex
	next map[commitKey]chan struct{}
}

type commitKey struct{ scope, target string }

// NewCommits returns a Commits to share among the workers of a daemon.
func NewCommits() *Commits { return &Commits{next: map[commitKey]chan struct{}{}} }

// Next returns a channel that is closed when the worker of scope at
// target next commits a target transaction.
func (c *Commits) Next(scope, target string) <-chan struct{} {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := commitKey{scope, target}
	ch := c.next[k]
	if ch == nil {
		ch = make(chan struct{})
		c.next[k] = ch
	}
	return ch
}

// committed wakes those waiting for a commit of scope at target.
func (c *Commits) committed(scope, target string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := commitKey{scope, target}
	if ch := c.next[k]; ch != nil {
		close(ch)
		delete(c.next, k)
	}
}

// waitDependencies returns once every scope of Config.DependsOn has
// finished its initial snapshot at the worker's target, or with ctx's
// error, or with an error reading the state (which Run retries). It
// waits at most once per worker: a snapshot a dependency takes again
// later (snapshot = "when_needed") holds nothing back.
//
// Dependency A has finished at target T when
//
//  1. A has snapshot = "never", or
//  2. every table of A has its snapshot recorded for its current
//     definition in the router's snapshot bucket, its copy for T too if
//     T was added to A later, and A's checkpoint at T
//     (its scope_info row) has a stream_seq at or past L, the last
//     sequence of A's stream when the worker saw 2's records complete.
//
// The router records a table's snapshot only once all its messages are
// stored in A's stream, so every snapshot message is at or before L, and
// A's worker at T has committed them all. Both facts are durable (the
// bucket in JetStream, the checkpoint in T), so after a restart the rule
// gives the same answer from them. It may wait for a few live changes of
// A stored before L as well, never for less than the snapshots.
//
// The worker waits in select: for a change of A's snapshot records
// (router.Conn.WatchSnapshots) while they are incomplete, then for a
// commit of A's worker at T (Config.Commits).
func (w *Worker) waitDependencies(ctx context.Context) error {
	var waiting []*scopes.Scope
	for _, dep := range w.cfg.DependsOn {
		if dep.Snapshot != scopes.SnapshotNever && !slices.Contains(w.done, dep.Name) {
			waiting = append(waiting, dep)
		}
	}
	if len(waiting) > 0 {
		w.log.Info("waiting for the scopes this scope depends on to finish their snapshots at the target", "depends_on", scopeNames(waiting))
	}
	for len(waiting) > 0 {
		names := scopeNames(waiting)
		w.update(func(st *Status) { st.State, st.Error, st.WaitingFor = StateWaiting, "", names })
		dep := waiting[0]
		if err := w.waitFor(ctx, dep); err != nil {
			return err
		}
		w.log.Info("dependency finished its snapshots at the target", "dependency", dep.Name)
		w.done = append(w.done, dep.Name)
		waiting = waiting[1:]
	}
	w.update(func(st *Status) { st.WaitingFor = nil })
	return nil
}

func scopeNames(list []*scopes.Scope) []string {
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = s.Name
	}
	return names
}

// errWatchEnded: the watch of a dependency's snapshot records stopped.
var errWatchEnded = errors.New("watch of snapshot records ended")

// waitFor waits until dep has finished at the target, by the rule of
// waitDependencies.
func (w *Worker) waitFor(ctx context.Context, dep *scopes.Scope) error {
	watch, err := w.conn.WatchSnapshots(ctx, dep.Name, w.cfg.Streams.Replicas)
	if err != nil {
		return err
	}
	defer watch.Stop()
	recorded := false
	var last uint64 // L
	for {
		var committed <-chan struct{}
		if !recorded {
			due, err := w.conn.SnapshotsDueAt(ctx, dep, w.cfg.Target)
			if err != nil {
				return err
			}
			if recorded = len(due) == 0; recorded {
				if last, err = w.streamLast(ctx, dep.Name); err != nil {
					return err
				}
			}
		}
		if recorded {
			committed = w.cfg.Commits.Next(dep.Name, w.cfg.Target) // before reading, so no commit is missed
			cp, _, err := w.target.Checkpoint(ctx, dep.Name, dep.Source)
			if err != nil {
				return err
			}
			if cp.StreamSeq >= last { // no checkpoint: 0, done only for an empty stream
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-committed:
		case _, ok := <-watch.Updates():
			if !ok {
				return errWatchEnded
			}
		}
	}
}

// streamLast returns the stream sequence of scope's last message (on a
// stream a template's spokes share, of the scope's own); 0 if it has no
// stream yet.
func (w *Worker) streamLast(ctx context.Context, scope string) (uint64, error) {
	st, err := w.conn.StreamState(ctx, scope)
	if errors.Is(err, router.ErrNoStream) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return st.LastSeq, nil
}
