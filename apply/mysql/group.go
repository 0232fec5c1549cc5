package mysql

import (
	"slices"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
)

// Group limits: a group becomes a statement when it reaches any. With
// one statement sent at a time, they bound the memory a transaction
// holds, however large it is. maxParams is the server's limit on the
// placeholders of a prepared statement, which the driver falls back to
// when an interpolated statement exceeds max_allowed_packet.
const (
	maxGroupRows  = 1000
	maxGroupBytes = 4 << 20
	maxParams     = 65535
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
		r.size += len(v) + 3
	case []byte:
		r.size += 2*len(v) + 10
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
}

// add appends r, the values of the columns cols of change c, if it fits the group: same
// table, kind and columns. An empty group takes any row. It reports
// false if r does not fit. Unlike PostgreSQL's ON CONFLICT, ON DUPLICATE
// KEY UPDATE may meet one key twice in a statement: the later row wins,
// as it should.
func (g *group) add(tb *table, o plan.Op, c *apply.Change, cols []int, r *row) bool {
	if g.rows > 0 && (g.table != tb || g.op != o || !slices.Equal(g.cols, cols)) {
		return false
	}
	if g.rows == 0 {
		g.table, g.op, g.first = tb, o, c
		g.cols = append(g.cols[:0], cols...)
		g.args = make([]any, 0, min(g.limit, 64)*len(cols))
	}
	g.args = append(g.args, r.vals...)
	g.rows++
	g.size += r.size
	return true
}

// full reports whether the group has reached its limits.
func (g *group) full() bool {
	return g.rows >= g.limit || g.size >= maxGroupBytes || (g.rows+1)*len(g.cols) > maxParams
}

// take returns the group as a statement and empties it.
func (g *group) take() sqltx.Stmt {
	var c *apply.Change
	if g.rows == 1 {
		c = g.first
	}
	q := g.table.stmt(g.op, g.table.statement(g.op, g.cols).text(g.rows), g.args, c, g.rows)
	g.rows, g.size, g.first, g.args = 0, 0, nil, nil
	return q
}
