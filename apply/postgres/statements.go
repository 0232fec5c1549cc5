package postgres

import (
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply/plan"
)

// One-row forms of plan.Upsert, plan.Insert and plan.Delete, with one
// scalar parameter per column: a group of one row is the common case for
// small source transactions, and the server executes these at about half
// the cost of an unnest over one-element arrays.
const (
	opUpsert1 plan.Op = 'u'
	opInsert1 plan.Op = 'i'
	opDelete1 plan.Op = 'd'
)

// opCopy writes the rows of a copy (a snapshot, a resync) into a table
// that is filling (tx.isFilling): truncated by this target transaction or
// an earlier one of the Target, and written since only by the rows of
// the copy. COPY ... FROM STDIN, in text format, with the rows of a
// group, which is about twice as fast as an upsert's unnest
// (docs/performance.md). A copy reads each key once, so plain inserts
// do; should a key be in the table after all (a scope's key that is not
// unique at the source, another writer), the COPY fails like any
// rejected batch and row isolation upserts the rows one by one.
const opCopy plan.Op = 'c'

// opDeleteAll is the truncate of a resync (apply.Change.Resync): DELETE,
// not TRUNCATE, so that the table's readers are not locked out while the
// target transaction refills it.
const opDeleteAll plan.Op = 'x'

// single returns the one-row form of o, or o if it has none.
func single(o plan.Op) plan.Op {
	switch o {
	case plan.Upsert:
		return opUpsert1
	case plan.Insert:
		return opInsert1
	case plan.Delete:
		return opDelete1
	}
	return o
}

// statement returns the text of the statement of kind o over the columns
// at cols, from the cache or built.
//
// Upserts, inserts and deletes take one parameter per column, a text[]
// holding the column's values for every row of a group; the others take
// one value per parameter. Values are text that the column type's input
// function reads, cast to the column's type. Identifiers are quoted;
// values are never part of the text.
func (tb *table) statement(o plan.Op, cols []int) string {
	key := plan.ShapeKey(o, cols)
	if s, ok := tb.stmts[string(key)]; ok {
		return s
	}
	var s string
	switch o {
	case plan.Upsert, plan.Insert:
		s = tb.insertSQL(o, cols)
	case opUpsert1, opInsert1:
		s = tb.insertOneSQL(o, cols)
	case plan.Update, plan.Reland:
		s = tb.updateSQL(cols)
	case plan.Delete:
		s = tb.deleteSQL(cols)
	case opDelete1:
		s = tb.deleteOneSQL(cols)
	case plan.DeleteRow:
		s = tb.deleteRowSQL(cols)
	case plan.MoveKey:
		s = tb.moveKeySQL(cols)
	case plan.Truncate:
		s = tb.truncateSQL()
	case opDeleteAll:
		s = "DELETE FROM " + tb.ident
	case opCopy:
		s = fmt.Sprintf("COPY %s (%s) FROM STDIN", tb.ident, tb.names(cols, ""))
	default:
		panic(fmt.Sprintf("unknown statement kind %c", o))
	}
	tb.stmts[string(key)] = s
	return s
}

// truncateSQL: TRUNCATE t, or DELETE FROM t if a foreign key of another
// table references t, since PostgreSQL refuses to truncate such a table
// (SQLSTATE 0A000), even an empty one. DELETE takes only a ROW EXCLUSIVE
// lock, writes each row to the WAL, and leaves the referencing rows to
// the foreign key: NO ACTION checks them at the end of the statement, or
// at commit if the key is DEFERRABLE INITIALLY DEFERRED, when the
// transaction has written the rows again; CASCADE deletes them. Rows after
// it in the transaction go by COPY as after a TRUNCATE (tx.Write): the
// table is empty within the transaction either way, unless another
// session commits rows meanwhile, which TRUNCATE's lock would have made
// wait; a COPY that meets such a key fails, and row isolation upserts.
func (tb *table) truncateSQL() string {
	if tb.referenced {
		return "DELETE FROM " + tb.ident
	}
	return "TRUNCATE " + tb.ident
}

// unnest writes "unnest($1::text[], ...) AS u(c1, ...)" for cols.
func (tb *table) unnest(b *strings.Builder, cols []int) {
	b.WriteString("unnest(")
	for i := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "$%d::pg_catalog.text[]", i+1)
	}
	b.WriteString(") AS u(")
	b.WriteString(tb.names(cols, ""))
	b.WriteString(")")
}

// insertSQL: INSERT INTO t (c...) SELECT u.c... FROM unnest(...) AS u(c...)
// [ON CONFLICT (key) DO UPDATE SET c = excluded.c ... | DO NOTHING].
func (tb *table) insertSQL(o plan.Op, cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) SELECT ", tb.ident, tb.names(cols, ""))
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("u." + tb.cols[c].ident + "::" + tb.cols[c].typ)
	}
	b.WriteString(" FROM ")
	tb.unnest(&b, cols)
	if o == plan.Upsert {
		tb.onConflict(&b, cols)
	}
	return b.String()
}

// insertOneSQL: INSERT INTO t (c...) VALUES ($1::type, ...) [ON CONFLICT ...].
func (tb *table) insertOneSQL(o plan.Op, cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES (", tb.ident, tb.names(cols, ""))
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s", i+1, tb.cols[c].typ)
	}
	b.WriteString(")")
	if o == opUpsert1 {
		tb.onConflict(&b, cols)
	}
	return b.String()
}

// onConflict writes the upsert clause: the columns of cols outside the key
// take the new values; the others keep theirs.
func (tb *table) onConflict(b *strings.Builder, cols []int) {
	fmt.Fprintf(b, " ON CONFLICT (%s) DO ", tb.names(tb.Key, ""))
	set := 0
	for _, c := range cols {
		if tb.IsKey(c) {
			continue
		}
		if set == 0 {
			b.WriteString("UPDATE SET ")
		} else {
			b.WriteString(", ")
		}
		set++
		id := tb.cols[c].ident
		b.WriteString(id + " = excluded." + id)
	}
	if set == 0 {
		b.WriteString("NOTHING")
	}
}

// updateSQL: UPDATE t SET c = u.c ... FROM unnest(...) AS u(c...) WHERE
// t.k = u.k ... Only cols are written; the others keep their values.
func (tb *table) updateSQL(cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "UPDATE %s AS t SET ", tb.ident)
	set := 0
	for _, c := range cols {
		if tb.IsKey(c) {
			continue
		}
		if set > 0 {
			b.WriteString(", ")
		}
		set++
		col := &tb.cols[c]
		b.WriteString(col.ident + " = u." + col.ident + "::" + col.typ)
	}
	if set == 0 { // only the key: touch the row, so that it counts
		id := tb.cols[tb.Key[0]].ident
		b.WriteString(id + " = t." + id)
	}
	b.WriteString(" FROM ")
	tb.unnest(&b, cols)
	b.WriteString(" WHERE ")
	for i, k := range tb.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		col := &tb.cols[k]
		b.WriteString("t." + col.ident + " = u." + col.ident + "::" + col.typ)
	}
	return b.String()
}

// deleteSQL: DELETE FROM t USING unnest(...) AS u(k...) WHERE t.k = u.k ...
func (tb *table) deleteSQL(cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM %s AS t USING ", tb.ident)
	tb.unnest(&b, cols)
	b.WriteString(" WHERE ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(" AND ")
		}
		col := &tb.cols[c]
		b.WriteString("t." + col.ident + " = u." + col.ident + "::" + col.typ)
	}
	return b.String()
}

// deleteOneSQL: DELETE FROM t WHERE k = $1::type AND ...
func (tb *table) deleteOneSQL(cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM %s WHERE ", tb.ident)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(" AND ")
		}
		fmt.Fprintf(&b, "%s = $%d::%s", tb.cols[c].ident, i+1, tb.cols[c].typ)
	}
	return b.String()
}

// deleteRowSQL deletes one row, of possibly several equal ones, whose
// columns cols hold the parameters $1...
func (tb *table) deleteRowSQL(cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM %s WHERE (tableoid, ctid) = (SELECT tableoid, ctid FROM %s WHERE ", tb.ident, tb.ident)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(" AND ")
		}
		col := &tb.cols[c]
		if col.textEq {
			fmt.Fprintf(&b, "%s::text IS NOT DISTINCT FROM $%d::%s::text", col.ident, i+1, col.typ)
		} else {
			fmt.Fprintf(&b, "%s IS NOT DISTINCT FROM $%d::%s", col.ident, i+1, col.typ)
		}
	}
	b.WriteString(" LIMIT 1)")
	return b.String()
}

// moveKeySQL changes the key of the row whose key is the parameters after
// those of cols, writing cols; if there is no such row, it upserts the
// new one. An UPDATE keeps the columns the change does not carry (such as
// unchanged TOAST values), which a delete and an insert would lose.
func (tb *table) moveKeySQL(cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "WITH moved AS (UPDATE %s AS t SET ", tb.ident)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = $%d::%s", tb.cols[c].ident, i+1, tb.cols[c].typ)
	}
	b.WriteString(" WHERE ")
	for i, k := range tb.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		fmt.Fprintf(&b, "t.%s = $%d::%s", tb.cols[k].ident, len(cols)+i+1, tb.cols[k].typ)
	}
	fmt.Fprintf(&b, " RETURNING 1) INSERT INTO %s (%s) SELECT ", tb.ident, tb.names(cols, ""))
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s", i+1, tb.cols[c].typ)
	}
	b.WriteString(" WHERE NOT EXISTS (SELECT FROM moved)")
	tb.onConflict(&b, cols)
	return b.String()
}
