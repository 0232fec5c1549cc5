package sqlserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/apply/plan"
)

// errNotJSON is a value that is not the JSON the wire format promises.
var errNotJSON = errors.New("invalid JSON value")

// convert turns the wire value raw (docs/wire-format.md) into a driver
// value for col: nil (NULL), int64, float64, bool, string or []byte.
// Strings reach SQL Server as NVARCHAR parameters, which it converts to
// the column's type; dates and times go in ISO 8601 forms, read the
// same whatever the session's language. An error means the value cannot
// be stored faithfully; it rejects the change rather than store
// something else.
func convert(col *column, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errNotJSON
	}
	if string(raw) == "null" {
		if col.kind == kindBytes {
			// A typed NULL: go-mssqldb sends an untyped one as
			// NVARCHAR(1), which SQL Server does not convert to binary
			// types implicitly (error 257), and which would make a
			// VALUES column of bytes NVARCHAR (data type precedence:
			// https://learn.microsoft.com/en-us/sql/t-sql/data-types/data-type-precedence-transact-sql).
			return []byte(nil), nil
		}
		return nil, nil
	}
	if col.kind == kindJSON {
		return string(raw), nil
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errNotJSON
		}
		return convertString(col, s)
	case c == 't' || c == 'f':
		if string(raw) != "true" && string(raw) != "false" {
			return nil, errNotJSON
		}
		switch col.kind {
		case kindBool:
			return raw[0] == 't', nil
		case kindInt, kindUint:
			if raw[0] == 't' {
				return int64(1), nil
			}
			return int64(0), nil
		case kindText:
			return string(raw), nil
		}
		return nil, fmt.Errorf("a boolean for a %s column", col.typeName())
	case c == '-' || (c >= '0' && c <= '9'):
		return convertString(col, string(raw))
	case c == '[' && col.kind == kindText:
		return string(raw), nil // an array of a type kept as text: its JSON form
	case c == '[':
		return nil, fmt.Errorf("an array for a %s column", col.typeName())
	case c == '{':
		return nil, fmt.Errorf("an object for a %s column, which is not json", col.typeName())
	}
	return nil, errNotJSON
}

// convertString converts the contents of a JSON string, or a JSON
// number's text.
func convertString(col *column, s string) (any, error) {
	switch col.kind {
	case kindText, kindTime:
		return s, nil
	case kindInt, kindUint:
		return integer(col, s)
	case kindBool:
		switch s {
		case "t", "true", "1":
			return true, nil
		case "f", "false", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case kindFloat, kindFloat32:
		bits := 64
		if col.kind == kindFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(s, bits)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q: SQL Server floats hold neither NaN nor infinities", s)
		}
		return f, nil
	case kindDecimal:
		return decimal(col, s)
	case kindBytes:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("decode base64: %w", err)
		}
		return b, nil
	case kindTimestampTZ:
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || ts.UTC().Year() < 1 {
			return nil, fmt.Errorf("%q is not a timestamp SQL Server can hold (years 1 to 9999, no infinity, no zero date)", s)
		}
		return ts.UTC().Format(isoDateTime + "-07:00"), nil
	case kindDateTime:
		ts, err := time.Parse("2006-01-02T15:04:05.999999999", strings.Replace(s, " ", "T", 1))
		if err != nil || ts.Year() < 1 {
			return nil, fmt.Errorf("%q is not a date and time SQL Server can hold (years 1 to 9999, no infinity, no zero date)", s)
		}
		return ts.Format(isoDateTime), nil
	case kindDate:
		d, err := time.Parse(time.DateOnly, s)
		if err != nil || d.Year() < 1 {
			return nil, fmt.Errorf("%q is not a date SQL Server can hold (years 1 to 9999, no infinity, no zero date)", s)
		}
		return s, nil
	}
	return nil, fmt.Errorf("a string for a %s column", col.typeName())
}

// integer reads an integer: int64, or for unsigned columns its decimal
// text, always, so that the rows of one statement agree on the
// parameter's type (go-mssqldb sends no unsigned integers, and a
// BIGINT parameter in one row would make another's text convert to
// BIGINT, out of range).
func integer(col *column, s string) (any, error) {
	if col.kind == kindUint {
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return strconv.FormatUint(u, 10), nil
		}
	} else if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	return nil, fmt.Errorf("%q is not an integer of the range of a %s column", s, col.typeName())
}

// decimal checks the exact decimal text s (plan.CheckDecimal) and
// returns it.
func decimal(col *column, s string) (any, error) {
	if err := plan.CheckDecimal(s, col.scale, "SQL Server"); err != nil {
		return nil, err
	}
	return s, nil
}
