package plan

import (
	"fmt"

	"github.com/syncd-dev/syncd/apply"
)

// Describe names a statement of kind o that writes rows rows of table,
// for errors: "upsert 3 rows of public.items", "truncate public.items".
func Describe(o Op, rows int, table string) string {
	var what string
	switch o {
	case Truncate:
		return "truncate " + table
	case Upsert:
		what = "upsert"
	case Update, Reland:
		what = "update"
	case Insert:
		what = "insert"
	case Delete, DeleteRow:
		what = "delete"
	case MoveKey:
		what = "change the key of"
	}
	if rows == 1 {
		return fmt.Sprintf("%s 1 row of %s", what, table)
	}
	return fmt.Sprintf("%s %d rows of %s", what, rows, table)
}

// RowsMissing is the error of an Update statement, named stmt (see
// Describe), that found missing of its rows not at the target: rows that
// entered a filtered scope without the values the source left out. It is
// a rejected change, c if the statement writes one: retrying cannot help.
func RowsMissing(c *apply.Change, stmt string, missing int64) error {
	return &apply.RejectedError{Change: c, Err: fmt.Errorf(
		"%s: %d rows are not at the target, and the change does not carry their unchanged values "+
			"(unchanged TOAST: a row entering a filtered scope); set REPLICA IDENTITY FULL on the source table",
		stmt, missing)}
}
