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

// savepoint is the name of the savepoint each isolated change runs in.
const savepoint = "syncd_change"

func newTx(t *Target, stx *sql.Tx, isolate bool) *tx {
	x := &tx{t: t, g: newGroup(t.groupRows)}
	x.plan = plan.New[*table](t.cfg.Name, x)
	x.Tx = sqltx.NewTx(stx, x, isolate, sqltx.Config{
		Refused:             refused,
		OnError:             hint,
		SetSavepoint:        "SAVEPOINT " + savepoint,
		RollbackToSavepoint: "ROLLBACK TO SAVEPOINT " + savepoint,
		ReleaseSavepoint:    "RELEASE SAVEPOINT " + savepoint,
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

// hint explains the error an upsert's guard raises (see insertShape),
// for sqltx.Runner.
func hint(_ context.Context, q *sqltx.Stmt, err error) error {
	var me *mysql.MySQLError
	if tb, _ := q.Tag.(*table); q.Op == plan.Upsert && tb != nil && tb.guard && errors.As(err, &me) && me.Number == 1048 {
		return fmt.Errorf("a row has the values of another row in a unique index other than the key, or a null key: %w", err)
	}
	return err
}
