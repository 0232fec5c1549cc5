package postgres

import (
	"encoding/json"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/capture"
)

// tx is the plan.Dialect of its planner: rows become statements, queued
// in order. Upserts, inserts, deletes and updates join groups (see
// group); the others are statements of their own. A key change is one
// statement (moveKeySQL).
var _ plan.Dialect[*table] = (*tx)(nil)

// Table implements plan.Dialect.
func (x *tx) Table(id capture.TableID) (*table, *plan.Table, bool) {
	return x.t.tables.Table(id)
}

// Reset implements plan.Dialect.
func (x *tx) Reset() { x.r.reset() }

// Put implements plan.Dialect: it converts raw to the text of the
// column's type and appends it to x.r.
func (x *tx) Put(tb *table, i int, raw json.RawMessage) error {
	col := &tb.cols[i]
	data, null, err := x.cv.appendValue(x.r.data, col.kind, col.elem, col.delim, raw)
	if err != nil {
		x.r.data = data[:x.r.end()]
		return err
	}
	x.r.data = data
	x.r.endValue(null)
	return nil
}

// Write implements plan.Dialect.
func (x *tx) Write(tb *table, o plan.Op, cols []int, c *apply.Change) {
	switch o {
	case plan.Truncate:
		st := plan.Truncate
		if c.Resync {
			st = opDeleteAll
		}
		x.pushAlone(queued{sql: tb.statement(st, nil), table: tb, op: plan.Truncate, change: c})
		if x.truncated == nil {
			x.truncated = make(map[*table]bool)
		}
		x.truncated[tb] = true
	case plan.DeleteRow, plan.MoveKey:
		x.pushAlone(queued{sql: tb.statement(o, cols), args: x.r.args(), table: tb, op: o, change: c, rows: 1})
	default:
		if (o == plan.Upsert || o == plan.Insert) && c.Op == capture.OpRead && x.truncated[tb] && !x.isolate {
			o = opCopy // a snapshot's row into the table it emptied
		}
		x.addRow(tb, o, cols, c)
	}
}

// addRow adds x.r, the values of c's columns cols, to the group,
// queueing the group first if x.r does not fit it, and after if it is
// full.
func (x *tx) addRow(tb *table, o plan.Op, cols []int, c *apply.Change) {
	if !x.g.add(tb, o, c, cols, &x.r) {
		x.push(x.g.take())
		x.g.add(tb, o, c, cols, &x.r)
	}
	if x.g.full() {
		x.push(x.g.take())
	}
}
