package apply

import (
	"encoding/json"
	"errors"
	"fmt"
)

// InvalidError is a change a target cannot write as it is: a value its
// column cannot take, a column the table does not have, a missing key.
// Targets reject it, as they do the server's data errors.
type InvalidError struct {
	Column string // "" if no one column is at fault
	Err    error
}

func (e *InvalidError) Error() string {
	if e.Column == "" {
		return e.Err.Error()
	}
	return "column " + e.Column + ": " + e.Err.Error()
}

func (e *InvalidError) Unwrap() error { return e.Err }

// Invalid returns an *InvalidError with no one column at fault.
func Invalid(msg string) error { return &InvalidError{Err: errors.New(msg)} }

// UnknownColumn returns the *InvalidError for values that hold a column
// table lacks; has reports whether table has a column.
func UnknownColumn(table string, values map[string]json.RawMessage, has func(name string) bool) error {
	for name := range values {
		if !has(name) {
			return &InvalidError{Column: name, Err: fmt.Errorf("not a column of %s", table)}
		}
	}
	return Invalid("unknown column")
}

// Reject returns err as a *RejectedError for c (nil when the change is
// not known) if it condemns the change rather than the moment: an
// *InvalidError, or a server error refused reports. Any other error,
// and nil, it returns as it is.
func Reject(err error, c *Change, refused func(error) bool) error {
	var ie *InvalidError
	if err == nil || !errors.As(err, &ie) && !refused(err) {
		return err
	}
	return &RejectedError{Change: c, Err: err}
}
