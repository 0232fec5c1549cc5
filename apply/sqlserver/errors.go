package sqlserver

import (
	"errors"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// rejectedCodes are the server errors that condemn a row rather than the
// moment: retrying the same row cannot succeed. Numbers and texts from
// https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors
// (the pages of each range: -0-to-999, -1000-to-1999, -2000-to-2999,
// -8000-to-8999). Deadlocks (1205), lock timeouts (1222), lost
// connections and the like are not here: retrying may succeed. Neither
// are schema errors (invalid object or column name, 208 and 207): they
// need an operator, not a parked row.
var rejectedCodes = map[int32]string{
	220:  "arithmetic overflow for a data type",
	241:  "conversion failed when converting date and/or time from character string",
	242:  "conversion of a data type resulted in an out-of-range value",
	245:  "conversion failed when converting a value to a data type",
	515:  "cannot insert the value NULL into a column that does not allow nulls",
	547:  "statement conflicted with a FOREIGN KEY, CHECK or REFERENCE constraint",
	2601: "cannot insert duplicate key row (unique index)",
	2627: "violation of a PRIMARY KEY or UNIQUE constraint",
	2628: "string or binary data would be truncated (with the column named)",
	8102: "cannot update identity column",
	8114: "error converting data type",
	8115: "arithmetic overflow converting to a data type",
	8152: "string or binary data would be truncated",
}

// terminalCodes are login errors that retrying does not cure: the
// operator must fix the credentials or the database name.
var terminalCodes = map[int32]string{
	4060:  "cannot open database requested by the login",
	18456: "login failed for user",
}

// serverErrors returns the numbers of the server errors in err, first to
// last (mssql.Error.All; the last is also the error itself).
func serverErrors(err error) []int32 {
	var me mssql.Error
	if !errors.As(err, &me) {
		return nil
	}
	if len(me.All) == 0 {
		return []int32{me.Number}
	}
	nums := make([]int32, len(me.All))
	for i, e := range me.All {
		nums[i] = e.Number
	}
	return nums
}

// refused reports whether err holds a server error in rejectedCodes, for
// apply.Reject.
func refused(err error) bool {
	for _, n := range serverErrors(err) {
		if _, ok := rejectedCodes[n]; ok {
			return true
		}
	}
	return false
}

// classifyConnect marks err terminal if the server refused the login
// (terminalCodes); other connection errors stay retryable.
func classifyConnect(err error) error {
	for _, n := range serverErrors(err) {
		if _, ok := terminalCodes[n]; ok {
			return retry.Terminal(err)
		}
	}
	return err
}
