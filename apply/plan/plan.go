// Package plan turns the row changes of a target transaction into
// statements of a few kinds, the same for every target engine: which
// values a change writes, by which key, and whether it upserts, updates,
// moves a row to another key or deletes. A Dialect, one per engine
// (apply/postgres, apply/mysql), converts the values and writes, batches
// and sends the statements. A ProbeDialect, likewise, writes the
// comparisons of the query that reads a two-way scope's target row.
//
// This package imports no database driver.
package plan

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
)

// Op is the kind of statement a change becomes. Dialects may add kinds
// of their own for their statements, as other bytes (lower case).
type Op byte

const (
	// Upsert inserts a row, or updates the row of its key, writing the
	// columns given; the others keep their values.
	Upsert Op = 'U'
	// Insert inserts a row into a table without a key.
	Insert Op = 'I'
	// Delete deletes the row of a key, if there is one.
	Delete Op = 'D'
	// DeleteRow deletes one row, of possibly several equal ones, equal to
	// the values given, in a table without a key.
	DeleteRow Op = 'R'
	// MoveKey writes the columns given, the new key among them, to the
	// row of the old key, whose values follow; if there is no such row,
	// it upserts the new one. An update keeps the columns not given
	// (unchanged values), which a delete and an insert would lose.
	MoveKey Op = 'M'
	// Truncate deletes all rows.
	Truncate Op = 'T'
	// Update writes the columns given to the row of their key, which must
	// exist: changes that leave values out (unchanged TOAST) use it,
	// since an upsert would insert the row without them. A statement
	// that finds fewer rows than it writes fails the transaction with an
	// *apply.RejectedError.
	Update Op = 'P'
	// Reland is Update for the partial row of a re-land (an OpRead with
	// Unchanged values: the backfill of a changed transform, which sends
	// only the key and the columns it computes): a row the target no
	// longer has (deleted there by hand) is skipped, not rejected, since
	// the row is not in the scope's state at that target and stopping the
	// scope or parking rows would not bring it back (syncd resync does).
	// The dialect counts the rows its statements did not find and reports
	// them through apply.SkipCounter.
	Reland Op = 'L'
)

// A Dialect converts the values of the rows a Planner builds and writes
// them, for one target transaction. T is the engine's prepared table.
//
// The Planner calls Write in the order of the changes, each change's
// writes one after the other (a keyless update: DeleteRow, then Insert).
// The dialect decides when its queued statements go to the server; all
// of them, and the checkpoint, commit or roll back together (apply.Tx).
type Dialect[T any] interface {
	// Table returns the prepared table id, and what the planner reads of
	// it; ok is false if id was not prepared.
	Table(id capture.TableID) (tb T, pt *Table, ok bool)
	// Reset starts a new row: it drops the values put since the last.
	Reset()
	// Put converts raw, the wire value of the column at position i of
	// tb, and appends it to the row. After an error the row is as it was.
	Put(tb T, i int, raw json.RawMessage) error
	// Write queues the row, the change c as a statement of kind o on tb,
	// after what is queued. It does not fail: a statement the server
	// refuses fails when it runs. The row's values are those of the
	// columns at cols (positions in the table, in the table's order), for
	// MoveKey followed by the old key's values in key order; for Truncate
	// there are none. cols holds every key column for Upsert, Update and
	// MoveKey. Write must not keep cols.
	//
	// The statements must run in the order written, but the rows of
	// consecutive writes of one table, kind and columns may go in one
	// statement (Upsert, Insert, Delete, Update), as long as it has the
	// effect of writing them one by one.
	Write(tb T, o Op, cols []int, c *apply.Change)
}

// Planner turns changes into rows and writes them through its Dialect,
// in the order of the changes. It is used from one goroutine.
type Planner[T any] struct {
	target string // the target's name, for errors
	d      Dialect[T]
	cols   []int // positions of the columns of the row being built
}

// New returns a Planner writing through d to the target named target.
func New[T any](target string, d Dialect[T]) Planner[T] {
	return Planner[T]{target: target, d: d}
}

// Add turns c into rows, written in order:
//
//	c, r, u   Upsert of the columns c carries (After and Key, without
//	          Unchanged); u whose Before has another key MoveKey; with
//	          Unchanged values Update, as the row must exist, and for r
//	          (a re-land) Reland, which skips a row the target lacks
//	d         Delete by key
//	t         Truncate
//
// Without a key: c and r Insert; d DeleteRow of the row equal to Before;
// u does both. A change that cannot be written as it is (no key, a
// column the table lacks, a value its column cannot hold) fails with an
// *apply.InvalidError; it may have written part of the change already
// (a keyless update's DeleteRow), which the dialect must then drop or
// roll back with the transaction.
func (p *Planner[T]) Add(c *apply.Change) error {
	tb, pt, ok := p.d.Table(c.Table.Target)
	if !ok {
		return fmt.Errorf("table %s was not prepared at target %s", c.Table.Target, p.target)
	}
	switch c.Op {
	case capture.OpInsert, capture.OpRead, capture.OpUpdate:
		return p.addWrite(tb, pt, c)
	case capture.OpDelete:
		if len(pt.Key) == 0 {
			return p.addDeleteRow(tb, pt, c)
		}
		return p.addDelete(tb, pt, c)
	case capture.OpTruncate:
		p.reset()
		p.d.Write(tb, Truncate, nil, c)
		return nil
	}
	return apply.Invalid(fmt.Sprintf("unknown op %q", c.Op))
}

func (p *Planner[T]) addWrite(tb T, pt *Table, c *apply.Change) error {
	if c.After == nil {
		return apply.Invalid("no new row")
	}
	if len(pt.Key) == 0 {
		if c.Op == capture.OpUpdate {
			if err := p.addDeleteRow(tb, pt, c); err != nil {
				return err
			}
		}
		if err := p.collect(tb, pt, c); err != nil {
			return err
		}
		p.d.Write(tb, Insert, p.cols, c)
		return nil
	}
	if err := p.collect(tb, pt, c); err != nil {
		return err
	}
	if c.Op == capture.OpUpdate && c.KeyMoved() {
		return p.addMoveKey(tb, pt, c)
	}
	if len(c.Unchanged) > 0 {
		// The row must be there already: upserting it would insert NULL
		// for the values left out (a row entering a filtered scope
		// without an old image at the source). A re-land's row that is
		// not there is skipped (Reland).
		if c.Op == capture.OpRead {
			p.d.Write(tb, Reland, p.cols, c)
			return nil
		}
		p.d.Write(tb, Update, p.cols, c)
		return nil
	}
	p.d.Write(tb, Upsert, p.cols, c)
	return nil
}

// collect puts the columns c writes: those of After not listed in
// Unchanged, and the key columns from Key when After lacks them.
func (p *Planner[T]) collect(tb T, pt *Table, c *apply.Change) error {
	p.reset()
	found := 0
	for i, name := range pt.Names {
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
			if err := p.put(tb, pt, i, raw); err != nil {
				return err
			}
		}
	}
	if found != len(c.After) {
		return unknownColumn(pt, c.After)
	}
	for _, k := range pt.Key {
		if !slices.Contains(p.cols, k) {
			return &apply.InvalidError{Column: pt.Names[k], Err: fmt.Errorf("key column missing")}
		}
	}
	return nil
}

// reset starts a new row.
func (p *Planner[T]) reset() {
	p.cols = p.cols[:0]
	p.d.Reset()
}

// put converts raw for the column at position i and appends it to the row.
func (p *Planner[T]) put(tb T, pt *Table, i int, raw json.RawMessage) error {
	if err := p.d.Put(tb, i, raw); err != nil {
		return &apply.InvalidError{Column: pt.Names[i], Err: err}
	}
	p.cols = append(p.cols, i)
	return nil
}

// unknownColumn names a column of values that pt does not publish.
func unknownColumn(pt *Table, values map[string]json.RawMessage) error {
	return apply.UnknownColumn(fmt.Sprint(pt.ID), values, func(name string) bool {
		_, ok := pt.Index[name]
		return ok
	})
}

// addDelete deletes by key: Key's values, or Before's.
func (p *Planner[T]) addDelete(tb T, pt *Table, c *apply.Change) error {
	p.reset()
	for _, k := range pt.Key {
		raw, err := c.DeleteKey(pt.Names[k])
		if err != nil {
			return err
		}
		if err := p.put(tb, pt, k, raw); err != nil {
			return err
		}
	}
	p.d.Write(tb, Delete, p.cols, c)
	return nil
}

// addDeleteRow deletes one row equal to c's old row, in a table without
// a key.
func (p *Planner[T]) addDeleteRow(tb T, pt *Table, c *apply.Change) error {
	if len(c.Before) == 0 {
		return apply.Invalid("no old row to find the row by: a table without a key needs its full old row from the source (REPLICA IDENTITY FULL, binlog_row_image FULL)")
	}
	p.reset()
	for i, name := range pt.Names {
		if raw, ok := c.Before[name]; ok {
			if err := p.put(tb, pt, i, raw); err != nil {
				return err
			}
		}
	}
	if len(p.cols) != len(c.Before) {
		return unknownColumn(pt, c.Before)
	}
	p.d.Write(tb, DeleteRow, p.cols, c)
	return nil
}

// addMoveKey puts the old key's values after those collected from c, and
// writes the row to the row of c's old key.
func (p *Planner[T]) addMoveKey(tb T, pt *Table, c *apply.Change) error {
	n := len(p.cols)
	for _, k := range pt.Key {
		name := pt.Names[k]
		raw, ok := c.Before[name]
		if !ok { // this part of the key did not change
			raw, ok = c.After[name]
		}
		if !ok {
			raw = c.Key[name]
		}
		if err := p.put(tb, pt, k, raw); err != nil {
			return err
		}
	}
	p.d.Write(tb, MoveKey, p.cols[:n], c)
	return nil
}
