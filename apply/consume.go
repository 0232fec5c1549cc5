package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// batch is the open target transaction and what it holds.
type batch struct {
	tx      Tx
	opened  time.Time
	rows    int64
	ops     map[string]int64 // rows by op, counted in the metrics at commit
	last    *router.Delivery // last message of the last whole source transaction in it
	commit  time.Time        // that transaction's source commit time
	partial bool             // in the middle of a source transaction
	snap    bool             // that transaction is a snapshot's copy
	isolate bool             // tx applies each change alone (Target.Begin)
	copied  copyApplied      // the rows of a table's copy in it
	held    probeBatch       // a two-way scope's changes not probed yet (applyTwoWay)
}

// consume applies messages from sub until an error. Messages of source
// transactions the checkpoint covers are skipped: they are applied
// already, whatever the stream's numbering.
//
// A snapshot transaction starts a target transaction of its own, so that
// it can be abandoned alone: when syncd stops while a snapshot is being
// published, the stream keeps the part stored, with no txn.last, and
// after the restart the next transaction follows it (the table's copy is
// taken again later). consume rolls such a cut copy back rather than
// commit part of it. Any other transaction that ends without its last
// message stops the scope: its rest is lost to the stream.
//
// When the scope is paused, it stops at the next source transaction
// boundary, commits what it holds, and returns errPaused.
//
// With isolate, it applies
// source transactions row by row, each in its own target transaction,
// through the message where a batch was rejected (s.isolateThrough), and
// then returns errIsolated.
func (s *session) consume(ctx context.Context, sub *router.Subscription, isolate bool) (err error) {
	w := s.w
	var b *batch
	var read uint64 // the stream sequence of the last message read
	defer func() {
		if b != nil {
			b.tx.Rollback(context.WithoutCancel(ctx))
		}
		if errors.Is(err, errIsolate) {
			s.isolateThrough = read
		}
	}()
	behind := w.metrics.Behind.WithLabelValues(w.cfg.Scope.Name, w.cfg.Target)
	pause := w.pausing()
	for {
		wait := time.Duration(0) // block: nothing open, or in a source transaction
		if b != nil && !b.partial {
			if isolate || b.rows >= int64(w.cfg.MaxRows) || time.Since(b.opened) >= w.cfg.MaxTime {
				if err := s.commit(ctx, b); err != nil {
					return commitFailed(err, isolate)
				}
				b = nil
				if isolate && s.cp != nil && s.cp.StreamSeq >= s.isolateThrough {
					return errIsolated
				}
				continue
			}
			wait = w.cfg.IdleCommit
		}
		var stop <-chan struct{} // between source transactions, a pause ends the wait
		if b == nil || !b.partial {
			if pause.now() {
				if err := s.commit(ctx, b); err != nil {
					return commitFailed(err, isolate)
				}
				b = nil
				return errPaused
			}
			stop = pause.changed
		}
		d, err := sub.NextUntil(ctx, wait, stop)
		if errors.Is(err, router.ErrNoMessage) {
			if err := s.commit(ctx, b); err != nil {
				return commitFailed(err, isolate)
			}
			b = nil
			continue
		}
		if err != nil {
			return err
		}
		read = d.StreamSeq
		behind.Set(float64(d.Pending))
		if s.cp != nil && d.Rows[0].Source.Pos <= s.cp.Position {
			continue // applied already: a message's rows share a transaction
		}
		if s.echo(d.Rows[0]) {
			continue // from the target's own database: a message's rows share a transaction
		}
		for i, env := range d.Rows {
			if b != nil && env.Txn.Seq == 1 {
				if b.partial {
					if err := s.abandon(ctx, b, d); err != nil {
						return err
					}
					b = nil
				} else if env.Source.Snapshot {
					if err := s.commit(ctx, b); err != nil {
						return commitFailed(err, isolate)
					}
					b = nil
				}
			}
			// A copy for another target is skipped, and so is what comes
			// before the first copy for a target added to the scope, and,
			// with EmptyRemoved, a table the scope no longer has; their
			// transactions' ends still move the checkpoint.
			mine := env.Scope.Target == w.cfg.Target
			if s.awaitCopy && mine {
				s.awaitCopy = false
			}
			skip := s.awaitCopy || env.Scope.Target != "" && !mine ||
				s.gone(capture.TableID{Schema: env.Source.Schema, Name: env.Source.Table})
			var c *Change
			if !skip && env.Op != string(capture.OpCopyEnd) {
				if c, err = s.change(ctx, env, d.StreamSeq); err != nil {
					return err
				}
			}
			if b == nil {
				tx, err := w.target.Begin(ctx, isolate)
				if err != nil {
					return fmt.Errorf("begin at target %s: %w", w.cfg.Target, err)
				}
				b = &batch{tx: tx, opened: time.Now(), ops: map[string]int64{}, isolate: isolate}
			}
			if !skip && env.Source.Snapshot {
				b.copied.note(env)
			}
			if c != nil {
				if err := s.applyRow(ctx, b, c, d, i); err != nil {
					if err := s.rejected(ctx, err, isolate, d, i); err != nil {
						return err
					}
				} else {
					b.rows++
					b.ops[env.Op]++
					if env.Source.Snapshot && c.Op != capture.OpTruncate {
						b.copied.rows++
					}
				}
			}
			b.partial, b.snap = !env.Txn.Last, env.Source.Snapshot
			if env.Txn.Last {
				b.last, b.commit = d, env.Source.CommitTS
			}
		}
	}
}

// abandon rolls back b, which holds the start of a snapshot transaction
// that the stream does not finish: d starts the next transaction.
// Another unfinished transaction stops the scope.
func (s *session) abandon(ctx context.Context, b *batch, d *router.Delivery) error {
	if !b.snap {
		return fmt.Errorf("%w: stream message %d starts a transaction while the one before it has no last message: the stream lost the rest of a source transaction", errFailed, d.StreamSeq)
	}
	if err := b.tx.Rollback(ctx); err != nil {
		return fmt.Errorf("roll back a cut snapshot at target %s: %w", s.w.cfg.Target, err)
	}
	s.w.log.Warn("discarded a snapshot copy that syncd did not finish publishing; the table's copy is taken again later in the stream",
		"rows", b.rows, "next_stream_seq", d.StreamSeq)
	return nil
}

// commitFailed decides what a failed commit means: a change the target
// rejected when the batch was flushed is found row by row; in an isolated
// transaction it stops the scope; anything else is retried.
func commitFailed(err error, isolate bool) error {
	switch {
	case !IsRejected(err):
		return err
	case isolate:
		return fmt.Errorf("%w: %w", errFailed, err)
	}
	return fmt.Errorf("%w: %w", errIsolate, err)
}

// rejected handles a change the target refused, row i of d. In a batch
// the row is not known: start over from the checkpoint, one row at a
// time. Row by row, park it on the DLQ or stop the scope, as the scope
// says.
func (s *session) rejected(ctx context.Context, err error, isolate bool, d *router.Delivery, i int) error {
	w := s.w
	if !IsRejected(err) {
		return err
	}
	if !isolate {
		return fmt.Errorf("%w: %w", errIsolate, err)
	}
	if w.cfg.Scope.OnApplyError != scopes.OnApplyErrorDLQ {
		return fmt.Errorf("%w: message %d: %w", errFailed, d.StreamSeq, err)
	}
	p := router.Parked{Scope: w.cfg.Scope.Name, Target: w.cfg.Target, Reason: err.Error(), StreamSeq: d.StreamSeq, Message: d.Data, ParkedAt: time.Now().UTC()}
	if router.IsPack(d.Data) {
		row, merr := json.Marshal(d.Rows[i])
		if merr != nil {
			return fmt.Errorf("park row %d of message %d: %w", i, d.StreamSeq, merr)
		}
		p.Message, p.Row = row, i+1
	}
	stored, perr := w.conn.Park(ctx, p, w.cfg.Streams)
	if perr != nil {
		return perr
	}
	if stored { // a replay of a row parked before is not counted twice
		w.metrics.Parked.WithLabelValues(w.cfg.Scope.Name, w.cfg.Target).Inc()
		w.update(func(st *Status) { st.Parked++ })
	}
	w.update(func(st *Status) { st.Degraded = true })
	w.log.Error("parked a row the target rejected; the scope is degraded", "stream_seq", d.StreamSeq, "row", p.Row, "error", err)
	return nil
}

// change turns a message into a Change for its table. A message with a
// column the session's schema lacks comes after a schema change at the
// source (ALTER TABLE ... ADD COLUMN): change returns errSchemaChanged,
// once per message, so that the session loads the schemas again and
// prepares the target for the new columns, between transactions.
func (s *session) change(ctx context.Context, env *router.RawEnvelope, seq uint64) (*Change, error) {
	id := capture.TableID{Schema: env.Source.Schema, Name: env.Source.Table}
	ts, err := s.table(ctx, id)
	if err != nil {
		return nil, err
	}
	if (!s.covers(ts, env.After) || !s.covers(ts, env.Before)) && s.reloadedAt != seq {
		s.reloadedAt = seq
		return nil, errSchemaChanged
	}
	if len(env.Op) != 1 {
		return nil, fmt.Errorf("message with op %q", env.Op)
	}
	return &Change{Table: ts, Op: capture.Op(env.Op[0]), Key: env.Key, Before: env.Before, After: env.After, Unchanged: env.Unchanged,
		Resync: env.Scope.Reason == router.ReasonResync}, nil
}

// applyRow writes c, row i of d, in b, unless the scope's mapping could
// not map the row (Envelope.Error), which is rejected unwritten.
func (s *session) applyRow(ctx context.Context, b *batch, c *Change, d *router.Delivery, i int) error {
	if env := d.Rows[i]; env.Error != "" {
		return &RejectedError{Change: c, Err: &InvalidError{Err: errors.New("map row: " + env.Error)}}
	}
	if s.w.cfg.TwoWay {
		return s.applyTwoWay(ctx, b, c, d, i)
	}
	return s.apply(ctx, b.tx, c, d, i)
}

// commit commits b, if any, with the checkpoint of its last whole source
// transaction, after applying the changes it holds back (flushHeld).
func (s *session) commit(ctx context.Context, b *batch) error {
	if b == nil {
		return nil
	}
	if err := s.flushHeld(ctx, b); err != nil {
		return err
	}
	w := s.w
	if b.last == nil { // only skipped or rejected rows
		return b.tx.Rollback(ctx)
	}
	env := b.last.Rows[len(b.last.Rows)-1]
	def, err := w.definitionOf(ctx, env.Scope.Version)
	if err != nil {
		return err
	}
	rec := checkpoint.Record{
		Scope:        w.cfg.Scope.Name,
		Source:       w.cfg.Scope.Source,
		ScopeVersion: env.Scope.Version,
		Definition:   def,
		ColumnSchema: s.schema,
		Position:     env.Source.Pos,
		StreamSeq:    b.last.StreamSeq,
		AppliedAt:    time.Now().UTC(),
		TxnDuration:  time.Since(b.opened),
		SyncdVersion: w.cfg.SyncdVersion,
	}
	if s.cp != nil {
		rec.RowsApplied = s.cp.RowsApplied
	}
	rec.RowsApplied += b.rows
	b.copied.record(&rec, s.cp)
	write := rec
	if s.cp != nil && bytes.Equal(s.cp.Definition, rec.Definition) && bytes.Equal(s.cp.ColumnSchema, rec.ColumnSchema) {
		write.Definition, write.ColumnSchema = nil, nil // stored already
	}
	if err := b.tx.Commit(ctx, write); err != nil {
		return fmt.Errorf("commit at target %s: %w", w.cfg.Target, err)
	}
	s.cp = &rec
	w.cfg.Commits.committed(w.cfg.Scope.Name, w.cfg.Target)
	if sc, ok := b.tx.(SkipCounter); ok {
		if n := sc.RelandSkipped(); n > 0 {
			w.metrics.Skipped.WithLabelValues(w.cfg.Scope.Name, w.cfg.Target).Add(float64(n))
			w.update(func(st *Status) { st.RelandSkipped += n })
			w.log.Warn("skipped re-landed rows the target no longer has (deleted there by hand?); run syncd resync to put them back",
				"rows", n, "stream_seq", rec.StreamSeq)
		}
	}
	for op, n := range b.ops {
		s.rowCounter(op).Add(float64(n))
	}
	lag := rec.AppliedAt.Sub(b.commit).Seconds()
	w.metrics.TxnDuration.WithLabelValues(w.cfg.Scope.Name, w.cfg.Target).Observe(rec.TxnDuration.Seconds())
	w.metrics.Lag.WithLabelValues(w.cfg.Scope.Name, w.cfg.Target).Set(lag)
	w.update(func(st *Status) {
		st.Position, st.StreamSeq, st.AppliedAt = rec.Position, rec.StreamSeq, rec.AppliedAt
		st.CommitTS, st.LagSeconds, st.RowsApplied = b.commit, lag, rec.RowsApplied
	})
	return nil
}

// copyApplied is what a target transaction holds of a table's copy (a
// snapshot transaction): the table, the rows applied, and whether the
// copy ends in it (txn.copy_end).
type copyApplied struct {
	table string // schema.table; "": no copy
	rows  int64
	end   bool
}

// note notes env, a message of a snapshot transaction meant for the
// target.
func (c *copyApplied) note(env *router.RawEnvelope) {
	c.table = capture.TableID{Schema: env.Source.Schema, Name: env.Source.Table}.String()
	c.end = c.end || env.Txn.CopyEnd
}

// record sets the backfill state of rec, to be committed, from cp's (the
// last committed; nil: none) and the copy c holds: a copy of another
// table than cp's, or of the same one after it was done, counts its rows
// from zero.
func (c *copyApplied) record(rec *checkpoint.Record, cp *checkpoint.Record) {
	if cp != nil {
		rec.Backfill, rec.BackfillTable, rec.BackfillRows = cp.Backfill, cp.BackfillTable, cp.BackfillRows
	}
	if c.table == "" {
		return
	}
	if rec.BackfillTable != c.table || rec.Backfill != checkpoint.BackfillRunning {
		rec.BackfillTable, rec.BackfillRows = c.table, 0
	}
	rec.Backfill = checkpoint.BackfillRunning
	rec.BackfillRows += c.rows
	if c.end {
		rec.Backfill = checkpoint.BackfillDone
	}
}

// echo reports whether env's transaction came from the target's own
// database (Config.Self). Whole transactions are skipped, so the ones
// applied keep their boundaries.
func (s *session) echo(env *router.RawEnvelope) bool {
	self := s.w.cfg.Self
	return self != "" && capture.OriginSource(env.Source.Origin) == self
}

// covers reports whether ts has every column of row.
func (s *session) covers(ts *router.TableSchema, row map[string]json.RawMessage) bool {
	cols := s.columns[ts]
	if cols == nil {
		cols = make(map[string]bool, len(ts.Columns))
		for _, c := range ts.Columns {
			cols[c.Name] = true
		}
		s.columns[ts] = cols
	}
	for name := range row {
		if !cols[name] {
			return false
		}
	}
	return true
}

// rowCounter returns the rows-applied counter of op.
func (s *session) rowCounter(op string) prometheus.Counter {
	c := s.rows[op]
	if c == nil {
		if s.rows == nil {
			s.rows = map[string]prometheus.Counter{}
		}
		c = s.w.metrics.Rows.WithLabelValues(s.w.cfg.Scope.Name, s.w.cfg.Target, op)
		s.rows[op] = c
	}
	return c
}

// definitionOf returns the scope's definition of version, the one the
// router routed a change of that version by (older than the config's
// while a replay has not reached its switch point), as ScopeBucket
// records it: the config's if it records none. Each version is read once.
func (w *Worker) definitionOf(ctx context.Context, version int) ([]byte, error) {
	if def, ok := w.defs[version]; ok {
		return def, nil
	}
	def, ok, err := w.conn.ScopeDefinition(ctx, w.cfg.Scope.Name, version)
	if err != nil {
		return nil, fmt.Errorf("read definition version %d of scope %s: %w", version, w.cfg.Scope.Name, err)
	}
	if !ok {
		def = w.def
	}
	w.defs[version] = def
	return def, nil
}
