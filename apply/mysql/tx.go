package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
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
	*sqltx.Tx[*table]
	t    *Target
	plan plan.Planner[*table]
}

var (
	_ apply.Tx          = (*tx)(nil)
	_ apply.BatchProber = (*tx)(nil) // sqltx.Tx's, of probeSQL's queries
	_ apply.Prober      = (*tx)(nil)
)

// savepoint is the name of the savepoint each isolated change runs in.
const savepoint = "syncd_change"

func newTx(t *Target, stx *sql.Tx, isolate bool) *tx {
	x := &tx{t: t}
	x.plan = plan.New[*table](t.cfg.Name, x)
	x.Tx = sqltx.NewTx(stx, &x.plan, isolate, sqltx.Config[*table]{
		Group: newGroup(t.groupRows),
		Convert: func(tb *table, i int, raw json.RawMessage) (any, error) {
			return convert(&tb.cols[i], raw)
		},
		Take:                take,
		Refused:             refused,
		OnError:             hint,
		ProbeSQL:            t.probeSQL,
		MaxProbeArgs:        maxProbeArgs,
		SetSavepoint:        "SAVEPOINT " + savepoint,
		RollbackToSavepoint: "ROLLBACK TO SAVEPOINT " + savepoint,
		ReleaseSavepoint:    "RELEASE SAVEPOINT " + savepoint,
		Checkpoint:          t.writeCheckpoint,
		Ended:               func() { t.pool.Ended(x) },
		Broken:              t.pool.CloseDB,
		Log:                 t.log,
	})
	return x
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
