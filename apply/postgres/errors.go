package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// refused reports whether err condemns the change rather than the
// moment, for apply.Reject: a server error of class 22 (data exception)
// or 23 (integrity constraint violation), or a datatype mismatch. Lost
// connections, serialization failures, deadlocks, shutdowns and the like
// are not: retrying may succeed.
func refused(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "42804", // datatype_mismatch
		"42P18", // indeterminate_datatype
		"42883", // undefined_function: no operator or cast for the type
		"42846": // cannot_coerce
		return true
	}
	return len(pe.Code) == 5 && (pe.Code[:2] == "22" || pe.Code[:2] == "23")
}
