package sqlserver

import (
	"fmt"
	"strings"

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

// newGroup returns an empty group of at most rows rows, which never
// holds one key twice in an upsert (see statements.go).
func newGroup(rows int) sqltx.Group[*table] {
	return sqltx.Group[*table]{MaxRows: rows, MaxBytes: maxGroupBytes, MaxParams: maxParams, Distinct: upsertKey}
}

// upsertKey returns the key values of r, an upsert's row of the columns
// cols, as a string that tells their types and values apart; "" for
// other statements.
func upsertKey(tb *table, o plan.Op, cols []int, r *sqltx.Row) string {
	if o != plan.Upsert {
		return ""
	}
	var b strings.Builder
	for i, c := range cols {
		if tb.IsKey(c) {
			fmt.Fprintf(&b, "%T:%q;", r.Vals[i], fmt.Sprint(r.Vals[i]))
		}
	}
	return b.String()
}

// take returns the statement of the rows of g (sqltx.Config.Take).
func take(g *sqltx.Group[*table]) sqltx.Stmt {
	return g.Table.stmt(g.Op, g.Table.statement(g.Op, g.Cols, g.Rows), g.Args, g.Change(), g.Rows)
}
