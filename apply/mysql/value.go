package mysql

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
// value for col: nil (NULL), int64, uint64, float64, string or []byte.
// An error means the value cannot be stored faithfully; it rejects the
// change rather than store something else.
func convert(col *column, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errNotJSON
	}
	if string(raw) == "null" {
		return nil, nil
	}
	if col.kind == kindJSON {
		return string(raw), nil
	}
	switch c := raw[0]; {
	case c == '"':
		s, err := unquote(raw)
		if err != nil {
			return nil, err
		}
		return convertString(col, s)
	case c == 't' || c == 'f':
		if string(raw) != "true" && string(raw) != "false" {
			return nil, errNotJSON
		}
		switch col.kind {
		case kindBool, kindInt, kindUint, kindBit:
			if raw[0] == 't' {
				return int64(1), nil
			}
			return int64(0), nil
		case kindText:
			return string(raw), nil
		}
		return nil, fmt.Errorf("a boolean for a %s column", col.typeName())
	case c == '-' || (c >= '0' && c <= '9'):
		return convertNumber(col, string(raw))
	case c == '[' && col.kind == kindText:
		return string(raw), nil // an array of a type kept as text: its JSON form
	case c == '[':
		return nil, fmt.Errorf("an array for a %s column", col.typeName())
	case c == '{':
		return nil, fmt.Errorf("an object for a %s column, which is not json", col.typeName())
	}
	return nil, errNotJSON
}

// convertNumber converts a JSON number.
func convertNumber(col *column, n string) (any, error) {
	switch col.kind {
	case kindInt, kindUint, kindBool, kindBit:
		return parseInteger(col, n)
	case kindFloat, kindFloat32:
		f, err := strconv.ParseFloat(n, col.kind.floatBits())
		if err != nil {
			return nil, fmt.Errorf("read %s as a number: %w", n, err)
		}
		return f, nil
	case kindDecimal:
		return decimal(col, n)
	case kindText, kindTime:
		return n, nil
	}
	return nil, fmt.Errorf("a number for a %s column", col.typeName())
}

// convertString converts the contents of a JSON string.
func convertString(col *column, s string) (any, error) {
	switch col.kind {
	case kindText, kindTime:
		return s, nil
	case kindInt, kindUint:
		return parseInteger(col, s)
	case kindBool:
		switch s {
		case "t", "true":
			return int64(1), nil
		case "f", "false":
			return int64(0), nil
		}
		return parseInteger(col, s)
	case kindFloat, kindFloat32:
		f, err := strconv.ParseFloat(s, col.kind.floatBits())
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q: MySQL floats hold neither NaN nor infinities", s)
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
	case kindBit:
		return bits(s)
	case kindTimestampTZ:
		return timestamp(s)
	case kindDateTime:
		return dateTime(s)
	case kindDate:
		if _, err := checkDate(s); err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("a string for a %s column", col.typeName())
}

// parseInteger reads an integer: int64, or uint64 above its range.
func parseInteger(col *column, s string) (any, error) {
	if col.kind != kindUint {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%q is not an integer of the range of a %s column", s, col.typeName())
	}
	return u, nil
}

// decimal checks the exact decimal text s (plan.CheckDecimal) and
// returns it.
func decimal(col *column, s string) (any, error) {
	if err := plan.CheckDecimal(s, col.scale, "MySQL"); err != nil {
		return nil, err
	}
	return s, nil
}

// bits reads a bit string ("0101") as the number BIT columns take.
func bits(s string) (any, error) {
	if len(s) == 0 || len(s) > 64 || strings.Trim(s, "01") != "" {
		return nil, fmt.Errorf("%q is not a bit string of at most 64 bits", s)
	}
	u, err := strconv.ParseUint(s, 2, 64)
	if err != nil {
		return nil, fmt.Errorf("read bits %q: %w", s, err)
	}
	return u, nil
}

// mysqlDateTime is how temporal values are written to MySQL.
const mysqlDateTime = "2006-01-02 15:04:05.999999"

// timestamp reads an RFC 3339 instant as UTC; a MySQL zero timestamp
// stays zero.
func timestamp(s string) (any, error) {
	if strings.HasPrefix(s, "0000-00-00") {
		return dateTime(strings.TrimSuffix(s, "Z"))
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a timestamp MySQL can hold (years 1 to 9999, no infinity): %w", s, err)
	}
	return ts.UTC().Format(mysqlDateTime), nil
}

// dateTime reads "2006-01-02T15:04:05.999999", zero dates included, as
// MySQL writes it.
func dateTime(s string) (any, error) {
	date, clock, ok := strings.Cut(s, "T")
	if !ok {
		date, clock, ok = strings.Cut(s, " ")
	}
	zero, err := checkDate(date)
	if err != nil {
		return nil, err
	}
	if !ok {
		return date, nil
	}
	if len(clock) < 8 || clock[2] != ':' || clock[5] != ':' || strings.Trim(strings.Replace(clock, ".", "", 1), "0123456789:") != "" {
		return nil, fmt.Errorf("%q is not a date and time MySQL can hold", s)
	}
	if !zero {
		if _, err := time.Parse("15:04:05.999999999", clock); err != nil {
			return nil, fmt.Errorf("%q is not a date and time MySQL can hold: %w", s, err)
		}
	}
	return date + " " + clock, nil
}

// checkDate accepts "YYYY-MM-DD" of years 0001 to 9999 and MySQL's zero
// dates ("0000-00-00", "2024-00-00"): not infinity, BC or later years.
// It reports whether the date has zero parts.
func checkDate(s string) (bool, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || strings.Trim(s, "0123456789-") != "" {
		return false, fmt.Errorf("%q is not a date MySQL can hold", s)
	}
	if strings.Contains(s, "-00") || strings.HasPrefix(s, "0000") {
		return true, nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return false, fmt.Errorf("%q is not a date MySQL can hold: %w", s, err)
	}
	return false, nil
}

// unquote returns the contents of the JSON string raw.
func unquote(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errNotJSON
	}
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errNotJSON
	}
	return s, nil
}

// floatBits is the precision a float column's values are parsed at. A
// single precision value arrives as its shortest text ("3.4028235e+38"),
// which as a double may lie beyond FLOAT's range; parsed at 32 bits it is
// the exact value the source held, which the driver then sends in full.
func (k kind) floatBits() int {
	if k == kindFloat32 {
		return 32
	}
	return 64
}
