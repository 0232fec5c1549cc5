package mysql

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// rejectedCodes are the server errors that condemn a row rather than the
// moment: retrying the same row cannot succeed. Deadlocks (1213), lock
// wait timeouts (1205), lost connections, shutdowns (1053), killed
// queries and the like are not here: retrying may succeed. Neither are
// schema errors (no such table or column): they need an operator, not a
// parked row.
var rejectedCodes = map[uint16]string{
	1048: "ER_BAD_NULL_ERROR",
	1062: "ER_DUP_ENTRY",
	1169: "ER_DUP_UNIQUE",
	1216: "ER_NO_REFERENCED_ROW",
	1217: "ER_ROW_IS_REFERENCED",
	1263: "ER_WARN_NULL_TO_NOTNULL",
	1264: "ER_WARN_DATA_OUT_OF_RANGE",
	1265: "WARN_DATA_TRUNCATED",
	1292: "ER_TRUNCATED_WRONG_VALUE",
	1300: "ER_INVALID_CHARACTER_STRING",
	1364: "ER_NO_DEFAULT_FOR_FIELD",
	1365: "ER_DIVISION_BY_ZERO",
	1366: "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD",
	1367: "ER_ILLEGAL_VALUE_FOR_TYPE",
	1406: "ER_DATA_TOO_LONG",
	1411: "ER_WRONG_VALUE_FOR_TYPE",
	1416: "ER_CANT_CREATE_GEOMETRY_OBJECT",
	1451: "ER_ROW_IS_REFERENCED_2",
	1452: "ER_NO_REFERENCED_ROW_2",
	1525: "ER_WRONG_VALUE",
	1586: "ER_DUP_ENTRY_WITH_KEY_NAME",
	1690: "ER_DATA_OUT_OF_RANGE",
	1859: "ER_DUP_UNKNOWN_IN_INDEX",
	3140: "ER_INVALID_JSON_TEXT (MySQL)",
	3819: "ER_CHECK_CONSTRAINT_VIOLATED (MySQL)",
	4025: "ER_CONSTRAINT_FAILED (MariaDB CHECK, JSON_VALID)",
}

// refused reports whether err is a server error in rejectedCodes, for
// apply.Reject.
func refused(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	_, ok := rejectedCodes[me.Number]
	return ok
}
