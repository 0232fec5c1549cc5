package sqlserver

import (
	"context"
	"fmt"
)

// save stores the durable checkpoint if it moved: the version read
// through when every transaction passed is durable (exact if that poll
// reached the current version), else the version of the last durable one
// of the contiguous prefix (not exact).
func (ss *session) save(ctx context.Context) error {
	if !ss.have {
		return nil
	}
	ack, idle := ss.sink.Durable()
	v, exact := posVersion(ack), false
	if idle {
		v, exact = ss.last, ss.exact
	}
	var copies int64
	if posVersion(ack) == v {
		copies = int64(ack - versionPos(v))
	}
	if ss.haveSaved && (v < ss.saved || v == ss.saved && exact == ss.savedExact && copies <= ss.savedCopies) {
		return nil
	}
	if !idle && ack == 0 {
		return nil
	}
	until, seen := currentUntil(ss.seen, v, ss.savedUntil)
	if until.IsZero() && len(seen) > 0 {
		until = seen[len(seen)-1].at // still current as of the last poll
	}
	b, err := encodeState(checkpoint{Version: v, Exact: exact, Copies: copies, Until: until})
	if err != nil {
		return err
	}
	if err := ss.src.cfg.Store.Save(ctx, ss.src.cfg.Name, b); err != nil {
		return fmt.Errorf("save checkpoint of source %s: %w", ss.src.cfg.Name, err)
	}
	ss.saved, ss.savedExact, ss.savedCopies, ss.savedUntil, ss.haveSaved, ss.seen = v, exact, copies, until, true, seen
	ss.src.setStatus(func(st *Status) { st.Saved = &v })
	return nil
}

// stop drains the sink for at most DrainTimeout, saves the durable
// checkpoint and returns ctx's error.
func (ss *session) stop(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ss.src.cfg.DrainTimeout)
	defer cancel()
	if err := ss.sink.Drain(dctx); err != nil {
		ss.src.log.Warn("drain on stop failed", "error", err)
	}
	if err := ss.save(dctx); err != nil {
		ss.src.log.Warn("save checkpoint on stop failed", "error", err)
	}
	return ctx.Err()
}

// health updates the retention estimate of the saved checkpoint, and warns
// when it becomes at risk.
func (ss *session) health() {
	until, seen := currentUntil(ss.seen, ss.saved, ss.savedUntil)
	ss.seen = seen
	risk, left := retentionRisk(until, ss.src.now(), ss.src.cfg.Retention)
	was := ss.src.Status().RetentionRisk
	ss.src.setStatus(func(st *Status) { st.RetentionRisk, st.RetentionLeft = risk, left })
	if risk != "" && was == "" {
		ss.src.log.Warn("checkpoint at risk of change tracking cleanup", "checkpoint", ss.saved, "time_left", left)
	}
}
