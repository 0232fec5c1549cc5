package mysql

// How rows are written, measured (bench_test.go): 50,000 changes to a
// pgbench_accounts-like table (int key, two ints, char(84)), in target
// transactions of 10,000 rows, MariaDB 10.11 on the same 2-core machine
// (shared), go test -bench . -benchtime 3x, rows/s (a second run of 2x
// within 10%, but load-data inserts, which ranged 88k-225k):
//
//	                                       inserts   updates (random keys, prefilled)
//	INSERT ... ON DUPLICATE KEY UPDATE,
//	  1000 rows, interpolated (chosen)     313,000   201,000
//	  500 rows, interpolated               285,000   189,000
//	  1000 rows, server-side prepared      253,000   175,000
//	  1 row a statement                     21,600    18,100
//	LOAD DATA LOCAL INFILE into a temporary
//	  table + INSERT ... SELECT ... ODKU   225,000   170,000
//
// Multi-row ODKU with 1,000 rows is the fastest and the simplest: one
// statement per group, errors that name their statement, no temporary
// table or local-infile permission at the target. REPLACE is not used:
// it deletes and re-inserts, firing ON DELETE foreign key actions and
// triggers and losing the columns a change leaves out. Values are
// interpolated by the driver (interpolateParams): one round trip a
// statement instead of prepare, execute and close, and the driver
// escapes every value (strings, bytes as _binary'…') for the
// connection's utf8mb4, NO_BACKSLASH_ESCAPES included; nothing is
// spliced by syncd.

import (
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply/plan"
)

// rowAlias names the new row in upserts on MySQL 8.0.19+.
const rowAlias = "syncd_new"

// shape is a statement over a number of rows: head, then row once per
// row, comma-separated, then tail. Statements of one row are head alone.
type shape struct {
	head, row, tail string
}

// text returns the statement for n rows.
func (s *shape) text(n int) string {
	if s.row == "" {
		return s.head
	}
	var b strings.Builder
	b.Grow(len(s.head) + n*(len(s.row)+2) + len(s.tail))
	b.WriteString(s.head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.row)
	}
	b.WriteString(s.tail)
	return b.String()
}

// statement returns the shape of kind o over the columns at cols, from
// the cache or built.
//
// Every value is a ? parameter; identifiers are quoted (quote). Shapes:
//
//	upsert     INSERT INTO t (c...) VALUES (?...), ... ON DUPLICATE KEY UPDATE c = VALUES(c) ...
//	insert     INSERT INTO t (c...) VALUES (?...), ...
//	delete     DELETE FROM t WHERE (k...) IN ((?...), ...)
//	deleteRow  DELETE FROM t WHERE c <=> ? AND ... LIMIT 1
//	moveKey    UPDATE t SET c = ?, ... WHERE k = ? AND ...
//	truncate   DELETE FROM t
func (tb *table) statement(o plan.Op, cols []int) *shape {
	key := plan.ShapeKey(o, cols)
	if s, ok := tb.stmts[string(key)]; ok {
		return s
	}
	var s *shape
	switch o {
	case plan.Upsert, plan.Insert:
		s = tb.insertShape(o, cols)
	case plan.Delete:
		s = tb.deleteShape(cols)
	case plan.DeleteRow:
		s = &shape{head: tb.deleteRowSQL(cols)}
	case plan.MoveKey:
		s = &shape{head: tb.moveKeySQL(cols)}
	case plan.Truncate:
		// Not TRUNCATE: it commits the open transaction implicitly, and
		// the source transaction must stay whole with its checkpoint.
		s = &shape{head: "DELETE FROM " + tb.ident}
	default:
		panic(fmt.Sprintf("unknown statement kind %c", o))
	}
	tb.stmts[string(key)] = s
	return s
}

// placeholders returns "(?, ?, ...)" for n values.
func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// insertShape: INSERT INTO t (c...) VALUES (?...), ... and for upserts
// the update clause: the columns of cols outside the key take the new
// values; the others keep theirs.
//
// ON DUPLICATE KEY UPDATE updates the row that a new row meets on any
// unique index. When the table has unique indexes besides the key's
// (guard), the first assignment makes an upsert that met another row
// than its key's fail (setting the NOT NULL key to NULL: error 1048)
// rather than overwrite that row.
func (tb *table) insertShape(o plan.Op, cols []int) *shape {
	s := &shape{
		head: fmt.Sprintf("INSERT INTO %s (%s) VALUES ", tb.ident, tb.names(cols)),
		row:  placeholders(len(cols)),
	}
	if o != plan.Upsert {
		return s
	}
	var b strings.Builder
	if tb.server.rowAlias {
		b.WriteString(" AS " + rowAlias)
	}
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	set := 0
	if tb.guard {
		k0 := tb.cols[tb.Key[0]].ident
		b.WriteString(k0 + " = IF(")
		for i, k := range tb.Key {
			if i > 0 {
				b.WriteString(" AND ")
			}
			id := tb.cols[k].ident
			b.WriteString(id + " <=> " + newValue(tb.server, id))
		}
		b.WriteString(", " + k0 + ", NULL)")
		set++
	}
	for _, c := range cols {
		if tb.IsKey(c) {
			continue
		}
		if set > 0 {
			b.WriteString(", ")
		}
		set++
		id := tb.cols[c].ident
		b.WriteString(id + " = " + newValue(tb.server, id))
	}
	if set == 0 { // only key columns: nothing to update
		id := tb.cols[tb.Key[0]].ident
		b.WriteString(id + " = " + id)
	}
	s.tail = b.String()
	return s
}

// newValue refers to the value an upsert proposed for column id.
func newValue(s *server, id string) string {
	if s.rowAlias {
		return rowAlias + "." + id
	}
	return "VALUES(" + id + ")"
}

// deleteShape: DELETE FROM t WHERE k IN (?, ...), or with a key of
// several columns WHERE (k1, k2) IN ((?, ?), ...).
func (tb *table) deleteShape(cols []int) *shape {
	if len(cols) == 1 {
		return &shape{head: fmt.Sprintf("DELETE FROM %s WHERE %s IN (", tb.ident, tb.cols[cols[0]].ident), row: "?", tail: ")"}
	}
	return &shape{
		head: fmt.Sprintf("DELETE FROM %s WHERE (%s) IN (", tb.ident, tb.names(cols)),
		row:  placeholders(len(cols)),
		tail: ")",
	}
}

// deleteRowSQL deletes one row, of possibly several equal ones, whose
// columns cols hold the parameters; NULL matches NULL.
func (tb *table) deleteRowSQL(cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM %s WHERE ", tb.ident)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(" AND ")
		}
		col := &tb.cols[c]
		if col.dataType == "json" && !tb.server.mariaDB {
			b.WriteString(col.ident + " <=> CAST(? AS JSON)") // MySQL's JSON does not equal text
		} else {
			b.WriteString(col.ident + " <=> ?")
		}
	}
	b.WriteString(" LIMIT 1")
	return b.String()
}

// moveKeySQL writes cols, the new key among them, to the row whose key is
// the parameters after those of cols. An UPDATE keeps the columns the
// change does not carry (unchanged values), which a delete and an insert
// would lose, and fires ON UPDATE, not ON DELETE, foreign key actions.
// The upsert of the new row that follows it inserts the row if there was
// none to move.
func (tb *table) moveKeySQL(cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "UPDATE %s SET ", tb.ident)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tb.cols[c].ident + " = ?")
	}
	b.WriteString(" WHERE ")
	for i, k := range tb.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(tb.cols[k].ident + " = ?")
	}
	return b.String()
}
