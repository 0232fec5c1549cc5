package sqlserver

import (
	"context"
	"database/sql"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
)

// tx is a target transaction, open on the server from Begin: a
// sqltx.Tx (see there what Apply, Commit and Rollback do) whose rows
// this package plans. Changes are grouped (see group); a group becomes
// one statement when a change does not fit it or it is full, and at
// Commit.
type tx struct {
	*sqltx.Tx
	t    *Target
	plan plan.Planner[*table]
	r    sqltx.Row // the values of the row being planned
	g    sqltx.Group[*table]
}

var _ apply.Tx = (*tx)(nil)

// savepoint is the name of the savepoint each isolated change runs in
// (https://learn.microsoft.com/en-us/sql/t-sql/language-elements/save-transaction-transact-sql).
const savepoint = "syncd_change"

func newTx(t *Target, stx *sql.Tx, isolate bool) *tx {
	x := &tx{t: t, g: newGroup(t.groupRows)}
	x.plan = plan.New[*table](t.cfg.Name, x)
	x.Tx = sqltx.NewTx(stx, x, isolate, sqltx.Config{
		Refused: refused,
		OnError: x.identityOff,
		// SQL Server has no RELEASE SAVEPOINT: the name is reused.
		SetSavepoint:        "SAVE TRANSACTION " + savepoint,
		RollbackToSavepoint: "ROLLBACK TRANSACTION " + savepoint,
		Checkpoint:          t.writeCheckpoint,
		Ended: func() {
			if t.open == x {
				t.open = nil
			}
		},
		Broken:    t.closeDB,
		ErrTxDone: ErrTxDone,
		Log:       t.log,
	})
	return x
}

// Add implements sqltx.Rows.
func (x *tx) Add(c *apply.Change) error { return x.plan.Add(c) }

// Flush implements sqltx.Rows: it queues the group, if it holds rows.
func (x *tx) Flush() {
	if x.g.Rows > 0 {
		x.Push(x.take())
	}
}

// Drop implements sqltx.Rows.
func (x *tx) Drop() { x.g.Reset() }

// pushAlone queues the group, then q.
func (x *tx) pushAlone(q sqltx.Stmt) {
	x.Flush()
	x.Push(q)
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
	if oerr := x.Exec(ctx, "SET IDENTITY_INSERT "+tb.ident+" OFF"); oerr != nil {
		x.t.log.Debug("turning IDENTITY_INSERT off failed", "table", tb.name.String(), "error", oerr)
	}
	return err
}
