package main

import (
	"context"
	"time"

	"github.com/syncd-dev/syncd/apply"
)

// maxPace bounds how long a backfill waits for its targets before a
// chunk: a target that is slow or down must not hold the copy up for
// good, only keep it from running far ahead.
const maxPace = 2 * time.Second

// pace returns the router's Options.Pace over the apply workers of this
// process: it waits until each worker of scope that is applying has
// applied the scope's stream up to seq, waking on its commits, for at
// most maxPace. Workers that are not applying (paused, waiting, retrying,
// failed) are not waited for, nor are targets another process applies to.
func pace(appliers []*apply.Worker, commits *apply.Commits) func(ctx context.Context, scope string, seq uint64) error {
	return func(ctx context.Context, scope string, seq uint64) error {
		timer := time.NewTimer(maxPace)
		defer timer.Stop()
		for _, w := range appliers {
			for {
				st := w.Status()
				if st.Scope != scope {
					break
				}
				committed := commits.Next(scope, st.Target)
				if st = w.Status(); st.State != apply.StateApplying || st.StreamSeq >= seq {
					break
				}
				select {
				case <-committed:
				case <-timer.C:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	}
}
