package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncd-dev/syncd/apply"
)

// invalidError is a change this package cannot write as it is: a value
// its column cannot take, a column the table does not have, a missing
// key. Like the server's data exceptions, it rejects the change.
type invalidError struct {
	column string // "" if no one column is at fault
	err    error
}

func (e *invalidError) Error() string {
	if e.column == "" {
		return e.err.Error()
	}
	return "column " + e.column + ": " + e.err.Error()
}

func (e *invalidError) Unwrap() error { return e.err }

func invalid(msg string) error { return &invalidError{err: errors.New(msg)} }

// rejectable reports whether err condemns the change rather than the
// moment: an invalidError, or a server error of class 22 (data exception)
// or 23 (integrity constraint violation), or a datatype mismatch. Lost
// connections, serialization failures, deadlocks, shutdowns and the like
// are not: retrying may succeed.
func rejectable(err error) bool {
	var ie *invalidError
	if errors.As(err, &ie) {
		return true
	}
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

// classify returns err as an *apply.RejectedError for c (nil when the
// change is not known) if it is rejectable, else as it is.
func classify(err error, c *apply.Change) error {
	if err == nil || !rejectable(err) {
		return err
	}
	return &apply.RejectedError{Change: c, Err: err}
}
