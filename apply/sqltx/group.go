package sqltx

import (
	"slices"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
)

// Row is one change's converted values for a statement.
type Row struct {
	Vals []any // driver values, one per column
	Size int   // approximate bytes of the values in a statement
}

// Reset empties the row, keeping its space.
func (r *Row) Reset() {
	r.Vals, r.Size = r.Vals[:0], 0
}

// Put appends the value v of the next column.
func (r *Row) Put(v any) {
	r.Vals = append(r.Vals, v)
	switch v := v.(type) {
	case string:
		r.Size += len(v) + 3
	case []byte:
		r.Size += 2*len(v) + 10
	default:
		r.Size += 8
	}
}

// Group gathers consecutive rows of one table (T, the engine's), kind
// and column set, to be written by one multi-row statement. It reaches
// its limits at MaxRows rows, MaxBytes bytes of values, or when another
// row would pass MaxParams parameters.
type Group[T comparable] struct {
	Table T
	Op    plan.Op
	Cols  []int
	Args  []any // the rows' values, row after row
	Rows  int
	Size  int
	First *apply.Change // the first change, named if it fails alone

	MaxRows, MaxBytes, MaxParams int
	// Distinct, if set, returns a row's identity for statements that
	// cannot take one key twice, "" for the others; a row whose identity
	// the group holds does not fit it.
	Distinct func(tb T, o plan.Op, cols []int, r *Row) string
	seen     map[string]bool
}

// Add appends r, the values of the columns cols of change c, if it fits
// the group: same table, kind and columns, and, with Distinct, an
// identity that none of its rows has. An empty group takes any row. It reports false if r does
// not fit.
func (g *Group[T]) Add(tb T, o plan.Op, c *apply.Change, cols []int, r *Row) bool {
	if g.Rows > 0 && (g.Table != tb || g.Op != o || !slices.Equal(g.Cols, cols)) {
		return false
	}
	var id string
	if g.Distinct != nil {
		id = g.Distinct(tb, o, cols, r)
		if id != "" && g.Rows > 0 && g.seen[id] {
			return false
		}
	}
	if g.Rows == 0 {
		g.Table, g.Op, g.First = tb, o, c
		g.Cols = append(g.Cols[:0], cols...)
		g.Args = make([]any, 0, min(g.MaxRows, 64)*len(cols))
		clear(g.seen)
	}
	if id != "" {
		if g.seen == nil {
			g.seen = make(map[string]bool)
		}
		g.seen[id] = true
	}
	g.Args = append(g.Args, r.Vals...)
	g.Rows++
	g.Size += r.Size
	return true
}

// Full reports whether the group has reached its limits.
func (g *Group[T]) Full() bool {
	return g.Rows >= g.MaxRows || g.Size >= g.MaxBytes || (g.Rows+1)*len(g.Cols) > g.MaxParams
}

// Change returns the one change the group writes, if it holds one row.
func (g *Group[T]) Change() *apply.Change {
	if g.Rows == 1 {
		return g.First
	}
	return nil
}

// Reset empties the group; its Args go with the statement made of them.
func (g *Group[T]) Reset() {
	g.Rows, g.Size, g.First, g.Args = 0, 0, nil, nil
}
