package sqlserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
// With isolate, Apply sends each change at once inside a savepoint (SAVE
// TRANSACTION). A change the target rejects is rolled back to the
// savepoint and returned as a *apply.RejectedError with the change; the
// transaction goes on. Other errors end it, rolled back; so does a
// rejected change whose error doomed the transaction, as the rollback
// to the savepoint then fails.
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
	x := &tx{t: t, isolate: isolate, g: group{limit: t.groupRows}}
	x.run = sqltx.New(stx, refused, x.identityOff)
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

// savepoint is the name of the savepoint each isolated change runs in
// (https://learn.microsoft.com/en-us/sql/t-sql/language-elements/save-transaction-transact-sql).
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
	x.run.PushFront(sqltx.Stmt{SQL: "SAVE TRANSACTION " + savepoint})
	err := x.run.Send(ctx)
	if err == nil {
		return nil
	}
	var rej *apply.RejectedError
	if !errors.As(err, &rej) {
		return x.fail(ctx, err)
	}
	// SQL Server has no RELEASE SAVEPOINT: the name is reused.
	if _, rerr := x.run.Tx().ExecContext(ctx, "ROLLBACK TRANSACTION "+savepoint); rerr != nil {
		return x.fail(ctx, fmt.Errorf("roll back to savepoint after %w: %w", err, rerr))
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

// identityOff turns IDENTITY_INSERT off after a statement that turns it
// on failed before its end, for sqltx.Runner: the setting belongs to the
// session, not the transaction, and only one table may have it on. It
// returns err.
func (x *tx) identityOff(ctx context.Context, q *sqltx.Stmt, err error) error {
	tb, _ := q.Tag.(*table)
	if tb == nil || (q.Op != plan.Upsert && q.Op != plan.Insert) || !tb.writesIdentity(allColumns(tb)) {
		return err
	}
	if _, oerr := x.run.Tx().ExecContext(ctx, "SET IDENTITY_INSERT "+tb.ident+" OFF"); oerr != nil {
		x.t.log.Debug("turning IDENTITY_INSERT off failed", "table", tb.name.String(), "error", oerr)
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
