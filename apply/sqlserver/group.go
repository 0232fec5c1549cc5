package sqlserver

import (
	"fmt"
	"slices"
	"strings"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
)

// Group limits: a group becomes a statement when it reaches any (see
// statements.go). maxParams is the 2,100 parameters of a request less
// the two of sp_executesql itself.
const (
	maxGroupRows  = 1000
	maxGroupBytes = 4 << 20
	maxParams     = 2100 - 2
)

// row is one change's converted values for a statement.
type row struct {
	vals []any // driver values, one per column
	size int   // approximate bytes of the values
}

func (r *row) reset() {
	r.vals, r.size = r.vals[:0], 0
}

// put appends the value v of the next column.
func (r *row) put(v any) {
	r.vals = append(r.vals, v)
	switch v := v.(type) {
	case string:
		r.size += 2 * len(v)
	case []byte:
		r.size += len(v)
	default:
		r.size += 8
	}
}

// group gathers consecutive rows of one table, statement kind and column
// set, to be written by one multi-row statement.
type group struct {
	table *table
	op    plan.Op
	cols  []int
	args  []any
	rows  int
	size  int
	first *apply.Change // the first change, named if it fails alone
	limit int           // most rows a statement takes
	// keys holds the key values of an upsert group's rows: a key met
	// twice starts a new group (see statements.go).
	keys map[string]bool
}

// add appends r, the values of the columns cols of change c, if it fits
// the group: same table, kind and columns, and for upserts a key the
// group does not hold yet. An empty group takes any row. It reports
// false if r does not fit.
func (g *group) add(tb *table, o plan.Op, c *apply.Change, cols []int, r *row) bool {
	if g.rows > 0 && (g.table != tb || g.op != o || !slices.Equal(g.cols, cols)) {
		return false
	}
	var key string
	if o == plan.Upsert {
		key = rowKey(tb, cols, r)
		if g.rows > 0 && g.keys[key] {
			return false
		}
	}
	if g.rows == 0 {
		g.table, g.op, g.first = tb, o, c
		g.cols = append(g.cols[:0], cols...)
		g.args = make([]any, 0, min(g.limit, 64)*len(cols))
		clear(g.keys)
	}
	if o == plan.Upsert {
		if g.keys == nil {
			g.keys = make(map[string]bool)
		}
		g.keys[key] = true
	}
	g.args = append(g.args, r.vals...)
	g.rows++
	g.size += r.size
	return true
}

// rowKey returns the key values of r, of the columns cols, as a string
// that tells their types and values apart.
func rowKey(tb *table, cols []int, r *row) string {
	var b strings.Builder
	for i, c := range cols {
		if tb.IsKey(c) {
			fmt.Fprintf(&b, "%T:%q;", r.vals[i], fmt.Sprint(r.vals[i]))
		}
	}
	return b.String()
}

// full reports whether the group has reached its limits: another row
// would pass maxParams.
func (g *group) full() bool {
	return g.rows >= g.limit || g.size >= maxGroupBytes || (g.rows+1)*len(g.cols) > maxParams
}

// take returns the group as a statement and empties it.
func (g *group) take() sqltx.Stmt {
	var c *apply.Change
	if g.rows == 1 {
		c = g.first
	}
	q := g.table.stmt(g.op, g.table.statement(g.op, g.cols, g.rows), g.args, c, g.rows)
	g.rows, g.size, g.first, g.args = 0, 0, nil, nil
	return q
}
