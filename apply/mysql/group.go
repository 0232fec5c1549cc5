package mysql

import (
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

// newGroup returns an empty group of at most rows rows.
func newGroup(rows int) sqltx.Group[*table] {
	return sqltx.Group[*table]{MaxRows: rows, MaxBytes: maxGroupBytes, MaxParams: maxParams}
}

// take returns the statement of the rows of g (sqltx.Config.Take). Unlike
// PostgreSQL's ON CONFLICT, ON DUPLICATE KEY UPDATE may meet one key
// twice in a statement: the later row wins, as it should.
func take(g *sqltx.Group[*table]) sqltx.Stmt {
	return g.Table.stmt(g.Op, g.Table.statement(g.Op, g.Cols).text(g.Rows), g.Args, g.Change(), g.Rows)
}
