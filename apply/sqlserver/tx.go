package sqlserver

import (
	"context"
	"database/sql"
	"encoding/json"

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
	_ apply.BatchProber = (*tx)(nil) // sqltx.Tx's, of probeQuery's queries
	_ apply.Prober      = (*tx)(nil)
)

// savepoint is the name of the savepoint each isolated change runs in
// (https://learn.microsoft.com/en-us/sql/t-sql/language-elements/save-transaction-transact-sql).
const savepoint = "syncd_change"

func newTx(t *Target, stx *sql.Tx, isolate bool) *tx {
	x := &tx{t: t}
	x.plan = plan.New[*table](t.cfg.Name, x)
	x.Tx = sqltx.NewTx(stx, &x.plan, isolate, sqltx.Config[*table]{
		Group: newGroup(t.groupRows),
		Convert: func(tb *table, i int, raw json.RawMessage) (any, error) {
			return convert(&tb.cols[i], raw)
		},
		Take:    take,
		Refused: refused,
		OnError: x.identityOff,
		// sqltx.Tx's Probe and ProbeAll (probe.go).
		ProbeSQL:     t.probeQuery,
		MaxProbeArgs: maxProbeArgs,
		// SQL Server has no RELEASE SAVEPOINT: the name is reused.
		SetSavepoint:        "SAVE TRANSACTION " + savepoint,
		RollbackToSavepoint: "ROLLBACK TRANSACTION " + savepoint,
		Checkpoint:          t.writeCheckpoint,
		Ended:               func() { t.pool.Ended(x) },
		Broken:              t.pool.CloseDB,
		Log:                 t.log,
	})
	return x
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
