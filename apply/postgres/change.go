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
		x.setFilling(tb, true)
	case plan.DeleteRow, plan.MoveKey:
		x.setFilling(tb, false)
		x.pushAlone(queued{sql: tb.statement(o, cols), args: x.r.args(), table: tb, op: o, change: c, rows: 1})
	default:
		if (o == plan.Upsert || o == plan.Insert) && c.Op == capture.OpRead && !x.isolate && x.isFilling(tb) {
			o = opCopy // a snapshot's row into the table it is filling
		} else {
			x.setFilling(tb, false)
		}
		x.addRow(tb, o, cols, c)
	}
}

// isFilling reports whether tb is filling as of the changes planned so
// far in the transaction: emptied by a truncate, then written only by
// rows of a copy (OpRead) by COPY, in this transaction or in committed
// ones of the Target (Target.filling). The rows of one copy have keys of
// their own, so the keys of tb's next rows are not in the table, and
// COPY inserts them, at about twice an upsert's rate. A key that is there
// after all (another writer, a key the source does not keep unique)
// fails the COPY like any rejected batch; row isolation then upserts it,
// and its transaction ends the filling.
func (x *tx) isFilling(tb *table) bool {
	if v, ok := x.filling[tb]; ok {
		return v
	}
	return x.t.filling[tb]
}

// setFilling records whether tb is filling after the change being
// planned: true after a truncate, false after any other write than the
// COPY of a copy's row. Commit makes it the Target's.
func (x *tx) setFilling(tb *table, v bool) {
	if x.filling == nil {
		if !v && !x.t.filling[tb] {
			return
		}
		x.filling = make(map[*table]bool)
	}
	x.filling[tb] = v
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
