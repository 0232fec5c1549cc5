package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
	"github.com/syncd-dev/syncd/checkpoint"
)

// tx is a target transaction, open on the server from Begin.
//
// Without isolate, changes are grouped (see group); a group becomes one
// statement when a change does not fit it or it is full, and at Commit.
// A goroutine sends it while the worker converts the next changes; it is
// done before anything else is sent (sqltx.Runner). An error from Apply
// may come from an earlier change. Any error ends the transaction,
// rolled back.
//
// With isolate, Apply sends each change at once inside a savepoint. A
// change the target rejects is rolled back to the savepoint and returned
// as a *apply.RejectedError with the change; the transaction goes on.
// Other errors end it, rolled back.
type tx struct {
	t       *Target
	isolate bool
	done    bool // committed, rolled back or failed

	plan plan.Planner[*table]
	r    row // the values of the row being planned
	g    group
	run  *sqltx.Runner
}

var _ apply.Tx = (*tx)(nil)

func newTx(t *Target, stx *sql.Tx, isolate bool) *tx {
	x := &tx{t: t, isolate: isolate, g: group{limit: t.groupRows}, run: sqltx.New(stx, refused, hint)}
	x.plan = plan.New[*table](t.cfg.Name, x)
	return x
}

// Apply implements apply.Tx.
func (x *tx) Apply(ctx context.Context, c *apply.Change) error {
	if x.done {
		return ErrTxDone
	}
	if x.isolate {
		return x.applyIsolated(ctx, c)
	}
	if err := x.plan.Add(c); err != nil {
		return x.fail(ctx, apply.Reject(err, c, refused))
	}
	if err := x.run.SendAhead(ctx); err != nil {
		return x.fail(ctx, err)
	}
	return nil
}

// savepoint is the name of the savepoint each isolated change runs in.
const savepoint = "syncd_change"

func (x *tx) applyIsolated(ctx context.Context, c *apply.Change) error {
	if err := x.plan.Add(c); err != nil {
		x.discard()
		if err := apply.Reject(err, c, refused); apply.IsRejected(err) { // nothing was sent
			return err
		}
		return x.fail(ctx, err)
	}
	x.takeGroup()
	x.run.PushFront(sqltx.Stmt{SQL: "SAVEPOINT " + savepoint})
	x.run.Push(sqltx.Stmt{SQL: "RELEASE SAVEPOINT " + savepoint})
	err := x.run.Send(ctx)
	if err == nil {
		return nil
	}
	var rej *apply.RejectedError
	if !errors.As(err, &rej) {
		return x.fail(ctx, err)
	}
	if _, rerr := x.run.Tx().ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); rerr != nil {
		return x.fail(ctx, fmt.Errorf("roll back to savepoint after %w: %w", err, rerr))
	}
	if _, rerr := x.run.Tx().ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint); rerr != nil {
		return x.fail(ctx, fmt.Errorf("release savepoint after %w: %w", err, rerr))
	}
	rej.Change = c
	return rej
}

// Commit implements apply.Tx.
func (x *tx) Commit(ctx context.Context, rec checkpoint.Record) error {
	if x.done {
		return ErrTxDone
	}
	x.takeGroup()
	x.run.Push(x.t.writeCheckpoint(rec))
	if err := x.run.Send(ctx); err != nil {
		return x.fail(ctx, err)
	}
	x.end()
	if err := x.run.Tx().Commit(); err != nil {
		// The outcome is unknown only if the connection broke; the
		// checkpoint read at the next start tells.
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback implements apply.Tx. It is a no-op once the transaction ended.
func (x *tx) Rollback(ctx context.Context) error {
	if x.done {
		return nil
	}
	x.end()
	x.discard()
	return x.rollback()
}

// takeGroup queues the group, if it holds rows.
func (x *tx) takeGroup() {
	if x.g.rows > 0 {
		x.run.Push(x.g.take())
	}
}

// pushAlone queues the group, then q.
func (x *tx) pushAlone(q sqltx.Stmt) {
	x.takeGroup()
	x.run.Push(q)
}

// discard drops what is grouped and queued.
func (x *tx) discard() {
	x.g.rows, x.g.size, x.g.first, x.g.args = 0, 0, nil, nil
	x.run.Discard()
}

// hint explains the error an upsert's guard raises (see insertShape),
// for sqltx.Runner.
func hint(_ context.Context, q *sqltx.Stmt, err error) error {
	var me *mysql.MySQLError
	if tb, _ := q.Tag.(*table); q.Op == plan.Upsert && tb != nil && tb.guard && errors.As(err, &me) && me.Number == 1048 {
		return fmt.Errorf("a row has the values of another row in a unique index other than the key, or a null key: %w", err)
	}
	return err
}

// fail ends the transaction, rolls it back and returns err.
func (x *tx) fail(ctx context.Context, err error) error {
	x.end()
	x.discard()
	if rerr := x.rollback(); rerr != nil {
		x.t.log.Warn("rollback failed; the connection was closed", "error", rerr)
	}
	return err
}

// end marks the transaction ended and frees the Target for the next.
func (x *tx) end() {
	x.done = true
	if x.t.open == x {
		x.t.open = nil
	}
}

// rollback rolls the server transaction back. If that fails on a
// connection the server still answers, the connection, in an unknown
// state, is closed; a broken one database/sql drops by itself.
func (x *tx) rollback() error {
	_ = x.run.Wait() // its error does not matter: all is rolled back
	err := x.run.Tx().Rollback()
	if err == nil || errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	x.t.closeDB()
	return fmt.Errorf("roll back: %w", err)
}
