package sqltx

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/checkpoint"
)

// Planner plans changes into statements queued on a Tx: its engine's
// plan.Planner, whose Dialect calls AddRow, PushAlone and Push.
type Planner interface {
	// Add plans c. An *apply.InvalidError rejects c.
	Add(c *apply.Change) error
}

// Config is what a Tx needs of its engine, whose prepared tables are T.
type Config[T comparable] struct {
	// Group is the empty group of the transaction's multi-row
	// statements, with its limits.
	Group Group[T]
	// Convert returns the driver value of raw, the JSON value of column
	// i of tb, for Put.
	Convert func(tb T, i int, raw json.RawMessage) (any, error)
	// Take returns the statement of the rows of g, which is not empty.
	Take func(g *Group[T]) Stmt
	// Refused tells the server errors that reject a row (apply.Reject).
	Refused func(error) bool
	// OnError, if set, sees the error of a statement that writes rows,
	// and returns the error to report.
	OnError func(ctx context.Context, q *Stmt, err error) error
	// SetSavepoint, RollbackToSavepoint and ReleaseSavepoint ("" if the
	// engine has none) are the statements around an isolated change.
	SetSavepoint, RollbackToSavepoint, ReleaseSavepoint string
	// ProbeSQL returns the query of the probe of c (Tx.Probe) with the
	// policy column column, on c's target table: its columns are index,
	// the row as JSON and the apply.Probe's Base, New and Newer, and its
	// parameters are numbered after the first before (engines with
	// positional placeholders ignore before). A change without a row
	// gives no row. MaxProbeArgs bounds the parameters of one query.
	// Both are required.
	ProbeSQL     func(c *apply.Change, column string, index, before int) (string, []any, error)
	MaxProbeArgs int
	// Checkpoint returns the statement that writes rec.
	Checkpoint func(rec checkpoint.Record) Stmt
	// Ended is called once, when the transaction ends.
	Ended func()
	// Broken is called when a rollback failed on a connection that still
	// answers: its state is unknown, the engine closes it.
	Broken func()
	Log    hclog.Logger
}

// Tx is a target transaction of a database/sql engine, open on the
// server, implementing apply.Tx with the engine's Planner.
//
// Without isolate, changes are planned, consecutive rows of one table,
// kind and columns gathered in a Group until it is full or a row does not
// fit it, then written by one statement (Config.Take); the
// queued statements go ahead to the server while the worker converts
// the next changes (Runner.SendAhead). An error from Apply may come from
// an earlier change. Any error ends the transaction, rolled back.
//
// With isolate, Apply sends each change at once inside a savepoint. A
// change the target rejects is rolled back to the savepoint and returned
// as a *apply.RejectedError with the change; the transaction goes on.
// Other errors end it, rolled back; so does a failed rollback to the
// savepoint (a transaction the server doomed).
type Tx[T comparable] struct {
	*Runner
	Row     Row // the values of the row being planned (Reset, Put)
	cfg     Config[T]
	plan    Planner
	g       Group[T]
	isolate bool
	done    bool // committed, rolled back or failed
}

var (
	_ apply.Tx          = (*Tx[int])(nil)
	_ apply.SkipCounter = (*Tx[int])(nil)
)

// NewTx returns the Tx of stx, planned by p.
func NewTx[T comparable](stx *sql.Tx, p Planner, isolate bool, cfg Config[T]) *Tx[T] {
	return &Tx[T]{Runner: New(stx, cfg.Refused, cfg.OnError), cfg: cfg, plan: p, g: cfg.Group, isolate: isolate}
}

// AddRow adds r, the values of c's columns cols, to the group of
// statement kind o on tb, queueing the group first if r does not fit it,
// and after if it is full.
func (x *Tx[T]) AddRow(tb T, o plan.Op, cols []int, c *apply.Change, r *Row) {
	if !x.g.Add(tb, o, c, cols, r) {
		x.Push(x.take())
		x.g.Add(tb, o, c, cols, r)
	}
	if x.g.Full() {
		x.Push(x.take())
	}
}

// Reset implements plan.Dialect: it empties x.Row.
func (x *Tx[T]) Reset() { x.Row.Reset() }

// Put implements plan.Dialect: it converts raw to the column's driver
// value (Config.Convert) and appends it to x.Row.
func (x *Tx[T]) Put(tb T, i int, raw json.RawMessage) error {
	v, err := x.cfg.Convert(tb, i, raw)
	if err != nil {
		return err
	}
	x.Row.Put(v)
	return nil
}

// PushAlone queues the group, then q.
func (x *Tx[T]) PushAlone(q Stmt) {
	x.Flush()
	x.Push(q)
}

// Group returns the group being gathered, for tests.
func (x *Tx[T]) Group() *Group[T] { return &x.g }

// Flush queues the group, if it holds rows.
func (x *Tx[T]) Flush() {
	if x.g.Rows > 0 {
		x.Push(x.take())
	}
}

// take returns the group as a statement and empties it.
func (x *Tx[T]) take() Stmt {
	q := x.cfg.Take(&x.g)
	x.g.Reset()
	return q
}

// Apply implements apply.Tx.
func (x *Tx[T]) Apply(ctx context.Context, c *apply.Change) error {
	if x.done {
		return apply.ErrTxDone
	}
	if x.isolate {
		return x.applyIsolated(ctx, c)
	}
	if err := x.plan.Add(c); err != nil {
		return x.fail(apply.Reject(err, c, x.cfg.Refused))
	}
	if err := x.SendAhead(ctx); err != nil {
		return x.fail(err)
	}
	return nil
}

func (x *Tx[T]) applyIsolated(ctx context.Context, c *apply.Change) error {
	if err := x.plan.Add(c); err != nil {
		x.discard()
		if err := apply.Reject(err, c, x.cfg.Refused); apply.IsRejected(err) { // nothing was sent
			return err
		}
		return x.fail(err)
	}
	x.Flush()
	x.PushFront(Stmt{SQL: x.cfg.SetSavepoint})
	if x.cfg.ReleaseSavepoint != "" {
		x.Push(Stmt{SQL: x.cfg.ReleaseSavepoint})
	}
	err := x.Send(ctx)
	if err == nil {
		return nil
	}
	var rej *apply.RejectedError
	if !errors.As(err, &rej) {
		return x.fail(err)
	}
	if _, rerr := x.stx.ExecContext(ctx, x.cfg.RollbackToSavepoint); rerr != nil {
		return x.fail(fmt.Errorf("roll back to savepoint after %w: %w", err, rerr))
	}
	if x.cfg.ReleaseSavepoint != "" {
		if _, rerr := x.stx.ExecContext(ctx, x.cfg.ReleaseSavepoint); rerr != nil {
			return x.fail(fmt.Errorf("release savepoint after %w: %w", err, rerr))
		}
	}
	rej.Change = c
	return rej
}

// Commit implements apply.Tx.
func (x *Tx[T]) Commit(ctx context.Context, rec checkpoint.Record) error {
	if x.done {
		return apply.ErrTxDone
	}
	x.Flush()
	x.Push(x.cfg.Checkpoint(rec))
	if err := x.Send(ctx); err != nil {
		return x.fail(err)
	}
	x.end()
	if err := x.stx.Commit(); err != nil {
		// The outcome is unknown only if the connection broke; the
		// checkpoint read at the next start tells.
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback implements apply.Tx. It is a no-op once the transaction ended.
func (x *Tx[T]) Rollback(context.Context) error {
	if x.done {
		return nil
	}
	x.end()
	x.discard()
	return x.rollback()
}

// discard drops what is grouped and queued.
func (x *Tx[T]) discard() {
	x.g.Reset()
	x.Discard()
}

// fail ends the transaction, rolls it back and returns err.
func (x *Tx[T]) fail(err error) error {
	x.end()
	x.discard()
	if rerr := x.rollback(); rerr != nil {
		x.cfg.Log.Warn("rollback failed; the connection was closed", "error", rerr)
	}
	return err
}

// end marks the transaction ended.
func (x *Tx[T]) end() {
	x.done = true
	x.cfg.Ended()
}

// rollback rolls the server transaction back. If that fails on a
// connection the server still answers, the connection, in an unknown
// state, is closed (Broken); a broken one database/sql drops by itself.
func (x *Tx[T]) rollback() error {
	_ = x.Wait() // its error does not matter: all is rolled back
	err := x.stx.Rollback()
	if err == nil || errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	x.cfg.Broken()
	return fmt.Errorf("roll back: %w", err)
}

// Query sends what is queued, then runs query inside the transaction and
// calls scan for each row it returns. An error ends the transaction,
// rolled back. ProbeAll uses it.
func (x *Tx[T]) Query(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	if x.done {
		return apply.ErrTxDone
	}
	x.Flush()
	if err := x.Send(ctx); err != nil {
		return x.fail(err)
	}
	rows, err := x.stx.QueryContext(ctx, query, args...)
	if err != nil {
		return x.fail(err)
	}
	for err == nil && rows.Next() {
		err = scan(rows)
	}
	if rerr := rows.Close(); err == nil {
		err = rerr
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return x.fail(err)
	}
	return nil
}
