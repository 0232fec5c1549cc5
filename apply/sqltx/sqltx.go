// Package sqltx is the engine-neutral part of the targets that write
// through database/sql (apply/mysql, apply/sqlserver): Tx, the
// apply.Tx of one server transaction (isolated changes in savepoints,
// the checkpoint written with the last statements, rollback); Group, the
// rows one multi-row statement gathers; and Runner, which sends the
// statements in order, one round trip each, the next batch by a
// goroutine while the worker converts the following changes, each error
// naming its statement and classified as a rejected change or not; Conn,
// the target's one connection; and ReadCheckpoint. An engine plans rows
// with apply/plan and builds their statements.
//
// This package imports no database driver.
package sqltx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/checkpoint"
)

// Stmt is a statement to send.
type Stmt struct {
	SQL  string
	Args []any
	// Table names the table whose rows the statement writes, for errors;
	// "" for statements that write no rows of a table (savepoints, the
	// checkpoint).
	Table  string
	Op     plan.Op
	Rows   int
	Change *apply.Change // the one change the statement writes, if one
	// MustMatch: the statement must match Rows rows (plan.Update).
	MustMatch bool
	// Tag is the engine's, for its OnError.
	Tag any
}

// Describe names the statement for errors: kind, table, rows.
func (q *Stmt) Describe() string { return plan.Describe(q.Op, q.Rows, q.Table) }

// Runner sends the statements of one database/sql transaction. It is
// used from one goroutine, but for the round trip it runs ahead.
type Runner struct {
	stx *sql.Tx
	// refused tells the server errors that reject a row (apply.Reject).
	refused func(error) bool
	// onError, if set, sees the error of a statement that writes rows,
	// and returns the error to report (the engine's explanation).
	onError func(ctx context.Context, q *Stmt, err error) error

	// skipped counts the rows Reland statements did not find
	// (apply.SkipCounter); exec adds to it from the round trip's
	// goroutine.
	skipped atomic.Int64

	queue []Stmt     // statements to send, in order
	ahead *roundTrip // statements being sent, nil if none
	spare []Stmt     // the queue of the last round trip, for reuse
}

// roundTrip is statements a goroutine sends; done is closed when it has
// sent them or failed with err.
type roundTrip struct {
	qs   []Stmt
	done chan struct{}
	err  error
}

// New returns a Runner of stx. refused classifies server errors for
// apply.Reject; onError may be nil.
func New(stx *sql.Tx, refused func(error) bool, onError func(ctx context.Context, q *Stmt, err error) error) *Runner {
	return &Runner{stx: stx, refused: refused, onError: onError}
}

// Exec runs query at once, outside the queue: an engine's cleanup from
// OnError, which runs where the failed statement ran.
func (r *Runner) Exec(ctx context.Context, query string) error {
	_, err := r.stx.ExecContext(ctx, query)
	return err
}

// Push queues q after what is queued.
func (r *Runner) Push(q Stmt) { r.queue = append(r.queue, q) }

// PushFront queues q before what is queued.
func (r *Runner) PushFront(q Stmt) { r.queue = append([]Stmt{q}, r.queue...) }

// Queued returns the queued statements, for tests; the Runner keeps them.
func (r *Runner) Queued() []Stmt { return r.queue }

// Discard drops what is queued.
func (r *Runner) Discard() {
	clear(r.queue)
	r.queue = r.queue[:0]
}

// Send sends the queued statements in order, one round trip each, after
// those sent ahead, and empties the queue. An error names the statement
// that failed and is classified (see apply.Reject); a statement that
// must match its rows and does not fails with plan.RowsMissing.
func (r *Runner) Send(ctx context.Context) error {
	defer r.Discard()
	if err := r.Wait(); err != nil {
		return err
	}
	return r.exec(ctx, r.queue)
}

// SendAhead hands the queued statements, if any, to a goroutine that
// sends them as Send does, after waiting for those handed over before.
// Their error comes from a later SendAhead, Send or Wait.
func (r *Runner) SendAhead(ctx context.Context) error {
	if len(r.queue) == 0 {
		return nil
	}
	if err := r.Wait(); err != nil {
		return err
	}
	rt := &roundTrip{qs: r.queue, done: make(chan struct{})}
	r.queue, r.spare = r.spare, nil
	r.ahead = rt
	go func() {
		defer close(rt.done)
		rt.err = r.exec(ctx, rt.qs)
	}()
	return nil
}

// Wait waits for the statements sent ahead, if any, and returns their
// error.
func (r *Runner) Wait() error {
	rt := r.ahead
	if rt == nil {
		return nil
	}
	r.ahead = nil
	<-rt.done
	clear(rt.qs)
	r.spare = rt.qs[:0]
	return rt.err
}

// RelandSkipped implements apply.SkipCounter: the re-landed rows
// (plan.Reland) the statements sent so far did not find.
func (r *Runner) RelandSkipped() int64 { return r.skipped.Load() }

// exec sends qs in order, one round trip each.
func (r *Runner) exec(ctx context.Context, qs []Stmt) error {
	for i := range qs {
		q := &qs[i]
		res, err := r.stx.ExecContext(ctx, q.SQL, q.Args...)
		if err != nil {
			if q.Table == "" {
				return fmt.Errorf("%s: %w", FirstWords(q.SQL), err)
			}
			if r.onError != nil {
				err = r.onError(ctx, q, err)
			}
			return apply.Reject(fmt.Errorf("%s: %w", q.Describe(), err), q.Change, r.refused)
		}
		if q.Op == plan.Reland {
			if n, err := res.RowsAffected(); err == nil {
				r.skipped.Add(int64(q.Rows) - n)
			}
		}
		if q.MustMatch {
			if n, err := res.RowsAffected(); err == nil && n != int64(q.Rows) {
				return plan.RowsMissing(q.Change, q.Describe(), int64(q.Rows)-n)
			}
		}
	}
	return nil
}

// FirstWords returns the statement's first two words, to name it.
func FirstWords(s string) string {
	n := 0
	for i, c := range s {
		if c == ' ' {
			if n++; n == 2 {
				return s[:i]
			}
		}
	}
	return s
}

// CheckpointRead is how ReadCheckpoint reads a scope_info table.
type CheckpointRead struct {
	// Query selects plan.ScopeInfo's columns (Scan) of the row whose
	// scope and source are its parameters; OldQuery the same of a table
	// without the backfill columns (plan.ReadOldScopeInfoSQL).
	Query, OldQuery string
	Table           fmt.Stringer // the table's name, for errors
	// NoTable reports an error of a missing table or database; NoColumn
	// one of a missing column.
	NoTable, NoColumn func(error) bool
}

// ReadCheckpoint reads the checkpoint of scope and source from db as r
// says. A missing row, table or database is no error: there is no
// checkpoint yet. A table without the backfill columns (created by an
// earlier syncd and not migrated yet) is read by r.OldQuery: its rows
// have no backfill state.
func ReadCheckpoint(ctx context.Context, db *sql.DB, r CheckpointRead, scope, source string) (checkpoint.Record, bool, error) {
	si := plan.ScopeInfo{Scope: scope, Source: source}
	err := db.QueryRowContext(ctx, r.Query, scope, source).Scan(si.Scan()...)
	if err != nil && r.NoColumn(err) {
		err = db.QueryRowContext(ctx, r.OldQuery, scope, source).Scan(si.ScanOld()...)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows), err != nil && r.NoTable(err):
		return checkpoint.Record{}, false, nil
	case err != nil:
		return checkpoint.Record{}, false, fmt.Errorf("read checkpoint of scope %s from %s: %w", scope, r.Table, err)
	}
	rec, err := si.Record()
	if err != nil {
		return checkpoint.Record{}, false, fmt.Errorf("read checkpoint of scope %s from %s: %w", scope, r.Table, err)
	}
	return rec, true, nil
}
