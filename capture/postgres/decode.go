package postgres

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/syncd-dev/syncd/capture"
)

// decoder turns one column's value, in the text form pgoutput sends, into a
// capture row value of the Go type capture.Event documents. text is the
// value of a non-NULL column; it is valid only during the call, so decoders
// copy what they keep. Decoders hold no state and are safe for concurrent
// use.
//
// The text forms are those of a session with DateStyle=ISO, TimeZone=UTC,
// IntervalStyle=iso_8601, bytea_output=hex and extra_float_digits=3, the
// settings the replication connection is opened with.
type decoder func(text []byte) (any, error)

// errSyntax reports text that is not in the form the type's output
// function produces.
var errSyntax = errors.New("invalid syntax")

// maxTypeDepth bounds how many domains and array levels decoder follows
// from a column's type to a base type, in case of a corrupt catalog.
const maxTypeDepth = 16

// decoder returns the decoder for values of type oid, from what the cache
// knows when called: call it after resolve, once per column of a relation,
// and keep the result. Domains decode as their base type, arrays as []any
// of their elements' values; a type the cache does not know, and every type
// without a more specific mapping, decodes as its text (string).
func (c *typeCache) decoder(oid uint32) decoder {
	return c.decoderAt(oid, 0)
}

func (c *typeCache) decoderAt(oid uint32, depth int) decoder {
	t, ok := c.lookup(oid)
	if !ok || depth > maxTypeDepth {
		return decodeString
	}
	switch {
	case t.Type == 'd' && t.Base != 0:
		return c.decoderAt(t.Base, depth+1)
	case t.Category == 'A' && t.Elem != 0:
		return arrayDecoder(t.Name, c.decoderAt(t.Elem, depth+1), t.Delim)
	case t.Type == 'b':
		return baseDecoder(oid)
	}
	return decodeString // enums, composites, ranges, multiranges, pseudo-types
}

// baseDecoder returns the decoder for the built-in base type oid; other
// base types decode as their text.
func baseDecoder(oid uint32) decoder {
	switch oid {
	case pgtype.BoolOID:
		return decodeBool
	case pgtype.Int2OID:
		return decodeInt2
	case pgtype.Int4OID:
		return decodeInt4
	case pgtype.Int8OID:
		return decodeInt8
	case pgtype.OIDOID:
		return decodeOID
	case pgtype.XIDOID:
		return decodeXID
	case pgtype.CIDOID:
		return decodeCID
	case pgtype.XID8OID:
		return decodeXID8
	case pgtype.Float4OID:
		return decodeFloat4
	case pgtype.Float8OID:
		return decodeFloat8
	case pgtype.NumericOID:
		return decodeNumeric
	case pgtype.ByteaOID:
		return decodeBytea
	case pgtype.JSONOID, pgtype.JSONBOID:
		return decodeJSON
	case pgtype.TimestamptzOID:
		return decodeTimestamptz
	case pgtype.TimestampOID:
		return decodeTimestamp
	}
	return decodeString
}

// decodeString returns the text as sent: text types, and every type whose
// capture value is its text form (uuid, date, time, interval, money, inet,
// enums, ranges, composites, ...).
func decodeString(text []byte) (any, error) { return string(text), nil }

// decodeNumeric returns the exact decimal text, "NaN" and "±Infinity" included.
func decodeNumeric(text []byte) (any, error) { return capture.Decimal(text), nil }

// decodeJSON returns json and jsonb documents as sent.
func decodeJSON(text []byte) (any, error) { return capture.JSON(text), nil }

func decodeBool(text []byte) (any, error) {
	if len(text) == 1 {
		switch text[0] {
		case 't':
			return true, nil
		case 'f':
			return false, nil
		}
	}
	return nil, fmt.Errorf("decode bool: %s: %w", quote(text), errSyntax)
}

func decodeInt2(text []byte) (any, error) { return parseInt("int2", text, 16) }
func decodeInt4(text []byte) (any, error) { return parseInt("int4", text, 32) }
func decodeInt8(text []byte) (any, error) { return parseInt("int8", text, 64) }
func decodeOID(text []byte) (any, error)  { return parseUint32("oid", text) }
func decodeXID(text []byte) (any, error)  { return parseUint32("xid", text) }
func decodeCID(text []byte) (any, error)  { return parseUint32("cid", text) }

// parseInt parses a signed integer of the given size: an int32 for 32
// bits or fewer, an int64 for 64 (see the capture.Event value contract).
func parseInt(typeName string, text []byte, bits int) (any, error) {
	// strconv copies the string into its errors, so this conversion does
	// not escape and, for short text, does not allocate.
	v, err := strconv.ParseInt(string(text), 10, bits)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", typeName, err)
	}
	if bits <= 32 {
		return int32(v), nil
	}
	return v, nil
}

// parseUint32 parses an unsigned 32-bit integer (oid, xid, cid) as an int64.
func parseUint32(typeName string, text []byte) (any, error) {
	v, err := strconv.ParseUint(string(text), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", typeName, err)
	}
	return int64(v), nil
}

// decodeXID8 returns a 64-bit transaction id as a uint64.
func decodeXID8(text []byte) (any, error) {
	v, err := strconv.ParseUint(string(text), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("decode xid8: %w", err)
	}
	return v, nil
}

// decodeFloat4 returns a float32. strconv reads PostgreSQL's "NaN",
// "Infinity" and "-Infinity".
func decodeFloat4(text []byte) (any, error) {
	v, err := strconv.ParseFloat(string(text), 32)
	if err != nil {
		return nil, fmt.Errorf("decode float4: %w", err)
	}
	return float32(v), nil
}

// decodeFloat8 returns a float64, like decodeFloat4.
func decodeFloat8(text []byte) (any, error) {
	v, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return nil, fmt.Errorf("decode float8: %w", err)
	}
	return v, nil
}

// decodeBytea returns the bytes of a value in hex format (`\x0aff`), or, if
// the server was not told bytea_output=hex, in escape format. The result is
// never nil, so an empty value stays distinct from NULL.
func decodeBytea(text []byte) (any, error) {
	if len(text) >= 2 && text[0] == '\\' && text[1] == 'x' {
		b := make([]byte, hex.DecodedLen(len(text)-2))
		if _, err := hex.Decode(b, text[2:]); err != nil {
			return nil, fmt.Errorf("decode bytea: %w", err)
		}
		return b, nil
	}
	b, err := unescapeBytea(text)
	if err != nil {
		return nil, fmt.Errorf("decode bytea: %w", err)
	}
	return b, nil
}

// unescapeBytea decodes bytea's escape format: `\\` is a backslash, `\ooo`
// an octal byte, every other byte itself.
func unescapeBytea(text []byte) ([]byte, error) {
	b := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		switch {
		case i+1 < len(text) && text[i+1] == '\\':
			b = append(b, '\\')
			i++
		case i+3 < len(text) && isOctal(text[i+1]) && isOctal(text[i+2]) && isOctal(text[i+3]) && text[i+1] <= '3':
			b = append(b, (text[i+1]-'0')<<6|(text[i+2]-'0')<<3|(text[i+3]-'0'))
			i += 3
		default:
			return nil, fmt.Errorf("escape at byte %d: %w", i, errSyntax)
		}
	}
	return b, nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// decodeTimestamp returns a timestamp without time zone as text in the form
// "2006-01-02T15:04:05.999999": the digits PostgreSQL sent with the space
// between date and time replaced by 'T'. A BC timestamp keeps its " BC"
// suffix; "infinity" and "-infinity" are returned as they are.
func decodeTimestamp(text []byte) (any, error) {
	for i, c := range text {
		if c == ' ' {
			// The operands' conversions do not allocate; only the result does.
			return string(text[:i]) + "T" + string(text[i+1:]), nil
		}
	}
	return string(text), nil
}

// decodeTimestamptz returns a timestamp with time zone as a time.Time in
// UTC, or the string "infinity" or "-infinity".
func decodeTimestamptz(text []byte) (any, error) {
	switch string(text) {
	case "infinity":
		return "infinity", nil
	case "-infinity":
		return "-infinity", nil
	}
	t, ok := parseTimestamptz(text)
	if !ok {
		return nil, fmt.Errorf("decode timestamptz: %s: %w", quote(text), errSyntax)
	}
	return t, nil
}

// parseTimestamptz parses timestamptz_out's ISO form:
//
//	Y-MM-DD HH:MM:SS[.F]±HH[:MM[:SS]][ BC]
//
// with a year of one to seven digits (PostgreSQL pads it to four and sends
// up to six) and a fraction of one to nine digits (PostgreSQL sends up to
// six, without trailing zeros).
func parseTimestamptz(s []byte) (time.Time, bool) {
	year, i := 0, 0
	for i < len(s) && i < 7 && isDigit(s[i]) {
		year = year*10 + int(s[i]-'0')
		i++
	}
	// The fixed part "-MM-DD HH:MM:SS" and at least "+HH" must follow.
	if i == 0 || len(s)-i < len("-MM-DD HH:MM:SS+HH") {
		return time.Time{}, false
	}
	f := s[i : i+len("-MM-DD HH:MM:SS")]
	month, ok1 := twoDigits(f[1], f[2])
	day, ok2 := twoDigits(f[4], f[5])
	hour, ok3 := twoDigits(f[7], f[8])
	minute, ok4 := twoDigits(f[10], f[11])
	sec, ok5 := twoDigits(f[13], f[14])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || f[0] != '-' || f[3] != '-' || f[6] != ' ' || f[9] != ':' || f[12] != ':' ||
		month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i += len(f)

	nsec := 0
	if s[i] == '.' {
		i++
		start := i
		for i < len(s) && i-start < 9 && isDigit(s[i]) {
			nsec = nsec*10 + int(s[i]-'0')
			i++
		}
		if i == start {
			return time.Time{}, false
		}
		for range 9 - (i - start) {
			nsec *= 10
		}
	}

	// The UTC offset: ±HH[:MM[:SS]].
	if i+3 > len(s) || (s[i] != '+' && s[i] != '-') {
		return time.Time{}, false
	}
	offset, ok := twoDigits(s[i+1], s[i+2])
	if !ok {
		return time.Time{}, false
	}
	offset *= 3600
	neg := s[i] == '-'
	i += 3
	for unit := 60; unit > 0 && i < len(s) && s[i] == ':'; unit /= 60 {
		v, ok := 0, false
		if i+3 <= len(s) {
			v, ok = twoDigits(s[i+1], s[i+2])
		}
		if !ok {
			return time.Time{}, false
		}
		offset += v * unit
		i += 3
	}
	if neg {
		offset = -offset
	}

	if string(s[i:]) == " BC" {
		year = 1 - year // 1 BC is year 0
	} else if i != len(s) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// twoDigits returns the value of two decimal digits and whether they are.
func twoDigits(a, b byte) (int, bool) {
	return int(a-'0')*10 + int(b-'0'), isDigit(a) && isDigit(b)
}

// quote returns text quoted for an error message, cut to a readable length.
func quote(text []byte) string {
	const maxLen = 64
	if len(text) > maxLen {
		return strconv.Quote(string(text[:maxLen])) + "..."
	}
	return strconv.Quote(string(text))
}
