package sqlserver

import (
	"slices"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
	"github.com/syncd-dev/syncd/capture"
)

// tx is the plan.Dialect of its planner: rows become statements, queued
// in order. Upserts, inserts and deletes join the group (see group); the
// others are statements of their own. A key change is two statements:
// an update of the row of the old key (moveKeySQL), then an upsert of
// the new row, which inserts it if there was no old row.
var _ plan.Dialect[*table] = (*tx)(nil)

// Table implements plan.Dialect.
func (x *tx) Table(id capture.TableID) (*table, *plan.Table, bool) {
	return x.t.tables.Table(id)
}

// Write implements plan.Dialect.
func (x *tx) Write(tb *table, o plan.Op, cols []int, c *apply.Change) {
	one := func(op plan.Op, args []any, mustMatch bool) sqltx.Stmt {
		q := tb.stmt(op, tb.statement(op, cols, 1), args, c, 1)
		q.MustMatch = mustMatch
		return q
	}
	switch o {
	case plan.Truncate:
		x.PushAlone(tb.stmt(plan.Truncate, tb.statement(plan.Truncate, nil, 0), nil, c, 0))
	case plan.DeleteRow:
		x.PushAlone(one(plan.DeleteRow, slices.Clone(x.Row.Vals), false))
	case plan.Update:
		// c leaves values out (Unchanged): if the row is missing, the
		// update fails as rejected rather than insert it without them.
		x.PushAlone(one(plan.Update, slices.Clone(x.Row.Vals), true))
	case plan.Reland:
		// A re-land's partial row: a row the target lacks is skipped,
		// and counted (apply.SkipCounter).
		x.PushAlone(one(plan.Reland, slices.Clone(x.Row.Vals), false))
	case plan.MoveKey:
		x.PushAlone(one(plan.MoveKey, slices.Clone(x.Row.Vals), false))
		x.Push(one(plan.Upsert, slices.Clone(x.Row.Vals[:len(cols)]), false))
	default:
		x.AddRow(tb, o, cols, c, &x.Row)
	}
}
