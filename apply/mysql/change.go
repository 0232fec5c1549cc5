package mysql

import (
	"slices"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
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
	switch o {
	case plan.Truncate:
		x.PushAlone(tb.stmt(plan.Truncate, tb.statement(plan.Truncate, nil).text(0), nil, c, 0))
	case plan.DeleteRow:
		x.PushAlone(tb.stmt(plan.DeleteRow, tb.statement(plan.DeleteRow, cols).text(1), slices.Clone(x.Row.Vals), c, 1))
	case plan.Update, plan.Reland:
		x.addUpdate(tb, o, cols, c)
	case plan.MoveKey:
		x.addMoveKey(tb, cols, c)
	default:
		x.AddRow(tb, o, cols, c, &x.Row)
	}
}

// addUpdate writes x.Row, the values of c's columns cols, to the existing
// row of c's key. c leaves values out (Unchanged): if the row is missing
// (it entered a filtered scope without an old image at the source), an
// Update fails as rejected rather than insert it without them; a Reland
// (a re-land's partial row) is skipped, and counted.
func (x *tx) addUpdate(tb *table, o plan.Op, cols []int, c *apply.Change) {
	args := slices.Clone(x.Row.Vals)
	for _, k := range tb.Key {
		args = append(args, args[slices.Index(cols, k)])
	}
	q := tb.stmt(o, tb.statement(plan.MoveKey, cols).text(1), args, c, 1)
	q.MustMatch = o == plan.Update
	x.PushAlone(q)
}

// addMoveKey writes x.Row, the values of c's columns cols followed by its
// old key, to the row of the old key, then upserts the new row, which
// inserts it if there was no old row.
func (x *tx) addMoveKey(tb *table, cols []int, c *apply.Change) {
	x.PushAlone(tb.stmt(plan.MoveKey, tb.statement(plan.MoveKey, cols).text(1), slices.Clone(x.Row.Vals), c, 1))
	x.Push(tb.stmt(plan.Upsert, tb.statement(plan.Upsert, cols).text(1), slices.Clone(x.Row.Vals[:len(cols)]), c, 1))
}
