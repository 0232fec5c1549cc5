package mysql

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
)

// add turns c into statements, queued in order: rows join the group
// (see group), other changes become statements of their own.
//
//	c, r, u   upsert by key of the columns c carries (After and Key,
//	          without Unchanged); u whose Before has another key moves
//	          the row to the new key (moveKeySQL), then upserts it
//	d         delete by key
//	t         delete all rows
//
// Without a key: c and r insert; d deletes one row equal to Before; u
// does both.
func (x *tx) add(c *apply.Change) error {
	tb := x.t.tables[c.Table.Target]
	if tb == nil {
		return fmt.Errorf("table %s was not prepared at target %s", c.Table.Target, x.t.cfg.Name)
	}
	switch c.Op {
	case capture.OpInsert, capture.OpRead, capture.OpUpdate:
		return x.addWrite(tb, c)
	case capture.OpDelete:
		if len(tb.key) == 0 {
			return x.addDeleteRow(tb, c)
		}
		return x.addDelete(tb, c)
	case capture.OpTruncate:
		x.pushAlone(stmt{sql: tb.statement(opTruncate, nil).text(0), table: tb, op: opTruncate, change: c})
		return nil
	}
	return apply.Invalid(fmt.Sprintf("unknown op %q", c.Op))
}

func (x *tx) addWrite(tb *table, c *apply.Change) error {
	if c.After == nil {
		return apply.Invalid("no new row")
	}
	if len(tb.key) == 0 {
		if c.Op == capture.OpUpdate {
			if err := x.addDeleteRow(tb, c); err != nil {
				return err
			}
		}
		if err := x.collect(tb, c); err != nil {
			return err
		}
		x.addRow(tb, opInsert, c)
		return nil
	}
	if err := x.collect(tb, c); err != nil {
		return err
	}
	if c.Op == capture.OpUpdate && c.KeyMoved() {
		return x.addMoveKey(tb, c)
	}
	if len(c.Unchanged) > 0 {
		return x.addUpdate(tb, c)
	}
	x.addRow(tb, opUpsert, c)
	return nil
}

// collect converts into x.r the columns c writes: those of After not
// listed in Unchanged, and the key columns from Key when After lacks them.
func (x *tx) collect(tb *table, c *apply.Change) error {
	x.r.reset()
	found := 0
	for i := range tb.cols {
		name := tb.cols[i].name
		raw, ok := c.After[name]
		if ok {
			found++
			if slices.Contains(c.Unchanged, name) {
				ok = false
			}
		}
		if !ok {
			raw, ok = c.Key[name]
		}
		if ok {
			if err := x.put(tb, i, raw); err != nil {
				return err
			}
		}
	}
	if found != len(c.After) {
		return unknownColumn(tb, c.After)
	}
	for _, k := range tb.key {
		if !slices.Contains(x.r.cols, k) {
			return &apply.InvalidError{Column: tb.cols[k].name, Err: fmt.Errorf("key column missing")}
		}
	}
	return nil
}

// put converts raw for the column at index i and appends it to x.r.
func (x *tx) put(tb *table, i int, raw json.RawMessage) error {
	col := &tb.cols[i]
	v, err := convert(col, raw)
	if err != nil {
		return &apply.InvalidError{Column: col.name, Err: err}
	}
	x.r.put(i, v)
	return nil
}

// unknownColumn names a column of values that tb does not publish.
func unknownColumn(tb *table, values map[string]json.RawMessage) error {
	return apply.UnknownColumn(fmt.Sprint(tb.id), values, func(name string) bool {
		_, ok := tb.index[name]
		return ok
	})
}

// addRow adds x.r, the values of c, to the group, queueing the group
// first if x.r does not fit it, and after if it is full.
func (x *tx) addRow(tb *table, o op, c *apply.Change) {
	if !x.g.add(tb, o, c, &x.r) {
		x.push(x.g.take())
		x.g.add(tb, o, c, &x.r)
	}
	if x.g.full() {
		x.push(x.g.take())
	}
}

// addDelete deletes by key: Key's values, or Before's.
func (x *tx) addDelete(tb *table, c *apply.Change) error {
	x.r.reset()
	for _, k := range tb.key {
		raw, err := c.DeleteKey(tb.cols[k].name)
		if err != nil {
			return err
		}
		if err := x.put(tb, k, raw); err != nil {
			return err
		}
	}
	x.addRow(tb, opDelete, c)
	return nil
}

// addDeleteRow deletes one row equal to c's old row, in a table without
// a key.
func (x *tx) addDeleteRow(tb *table, c *apply.Change) error {
	if len(c.Before) == 0 {
		return apply.Invalid("no old row to find the row by: a table without a key needs its full old row from the source (REPLICA IDENTITY FULL, binlog_row_image FULL)")
	}
	x.r.reset()
	for i := range tb.cols {
		if raw, ok := c.Before[tb.cols[i].name]; ok {
			if err := x.put(tb, i, raw); err != nil {
				return err
			}
		}
	}
	if len(x.r.cols) != len(c.Before) {
		return unknownColumn(tb, c.Before)
	}
	x.pushAlone(stmt{sql: tb.statement(opDeleteRow, x.r.cols).text(1), args: slices.Clone(x.r.vals), table: tb, op: opDeleteRow, change: c, rows: 1})
	return nil
}

// addUpdate writes x.r, collected from c, to the existing row of c's key.
// c leaves values out (Unchanged): if the row is missing (it entered a
// filtered scope without an old image at the source), the update fails
// as rejected rather than insert it without them.
func (x *tx) addUpdate(tb *table, c *apply.Change) error {
	cols := slices.Clone(x.r.cols)
	args := slices.Clone(x.r.vals)
	for _, k := range tb.key {
		i := slices.Index(cols, k)
		if i < 0 {
			return &apply.InvalidError{Column: tb.cols[k].name, Err: fmt.Errorf("key column missing")}
		}
		args = append(args, args[i])
	}
	x.pushAlone(stmt{sql: tb.statement(opMoveKey, cols).text(1), args: args, table: tb, op: opUpdate, change: c, rows: 1, mustMatch: true})
	return nil
}

// addMoveKey writes x.r, collected from c, to the row of c's old key,
// then upserts it, which inserts it if there was no old row.
func (x *tx) addMoveKey(tb *table, c *apply.Change) error {
	cols := slices.Clone(x.r.cols)
	vals := slices.Clone(x.r.vals)
	args := slices.Clone(vals)
	for _, k := range tb.key {
		name := tb.cols[k].name
		raw, ok := c.Before[name]
		if !ok { // this part of the key did not change
			raw, ok = c.After[name]
		}
		if !ok {
			raw = c.Key[name]
		}
		v, err := convert(&tb.cols[k], raw)
		if err != nil {
			return &apply.InvalidError{Column: name, Err: err}
		}
		args = append(args, v)
	}
	x.pushAlone(stmt{sql: tb.statement(opMoveKey, cols).text(1), args: args, table: tb, op: opMoveKey, change: c, rows: 1})
	x.push(stmt{sql: tb.statement(opUpsert, cols).text(1), args: vals, table: tb, op: opUpsert, change: c, rows: 1})
	return nil
}
