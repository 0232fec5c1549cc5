package plan

import (
	"fmt"
	"slices"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

// ShapeKey identifies a statement of kind o over the columns at cols, for
// a dialect's cache of statement texts.
func ShapeKey(o Op, cols []int) []byte {
	b := make([]byte, 0, 1+2*len(cols))
	b = append(b, byte(o))
	for _, c := range cols {
		b = append(b, byte(c>>8), byte(c))
	}
	return b
}

// Table is what the planner reads of a prepared target table; engines
// embed it in theirs.
type Table struct {
	ID    capture.TableID // the scope's target name
	Names []string        // the published columns, in the schema's order
	Index map[string]int  // positions in Names by name
	Key   []int           // positions in Names of the key columns, in key order
}

// Planned returns t itself: an engine's table that embeds a Table is
// thus an EngineTable.
func (t *Table) Planned() *Table { return t }

// EngineTable is an engine's prepared table, which embeds a Table.
type EngineTable interface {
	comparable
	Planned() *Table
}

// Tables are a target's prepared tables by the scope's target name.
type Tables[T EngineTable] map[capture.TableID]T

// Table looks up the table id, as Dialect.Table does: false if the
// target has not prepared it.
func (m Tables[T]) Table(id capture.TableID) (T, *Table, bool) {
	tb, ok := m[id]
	if !ok {
		return tb, nil, false
	}
	return tb, tb.Planned(), true
}

// Prepare prepares each of tables with prepare, an engine's check or
// creation of its target table, and keeps the result by its target
// name. It stops at the first error.
func (m Tables[T]) Prepare(tables []*router.TableSchema, prepare func(*router.TableSchema) (T, error)) error {
	for _, ts := range tables {
		tb, err := prepare(ts)
		if err != nil {
			return err
		}
		m[ts.Target] = tb
	}
	return nil
}

// NewTable returns the Table of ts, whose target table name names in
// errors.
func NewTable(ts *router.TableSchema, name fmt.Stringer) (Table, error) {
	t := Table{ID: ts.Target, Names: make([]string, len(ts.Columns)), Index: make(map[string]int, len(ts.Columns))}
	for i, c := range ts.Columns {
		t.Names[i] = c.Name
		t.Index[c.Name] = i
	}
	for _, k := range ts.Key {
		i, ok := t.Index[k]
		if !ok {
			return Table{}, fmt.Errorf("key column %s of %s is not published", k, name)
		}
		t.Key = append(t.Key, i)
	}
	return t, nil
}

// IsKey reports whether the column at position i is a key column.
func (t *Table) IsKey(i int) bool { return slices.Contains(t.Key, i) }
