package mysql

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"golang.org/x/text/encoding/charmap"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// The value contract: every MySQL type maps to one Go type of the
// capture.Event doc, the same whether the value comes from a binlog row
// (decoded by go-mysql) or from a snapshot query (text protocol). A
// converter turns one column's raw value into that type.

// converter converts a non-NULL raw value of one column.
type converter func(v any) (any, error)

// charsets maps collation ids to character sets, as the server defines
// them (information_schema.COLLATIONS).
type charsets struct {
	byCollation map[uint64]charsetInfo
}

type charsetInfo struct {
	name   string
	maxLen int // bytes per character
}

// decoder returns the function turning a column's bytes into UTF-8 text,
// nil for the binary charset, or an error for a charset syncd cannot read.
func textDecoder(charset string) (func([]byte) (string, error), bool, error) {
	switch charset {
	case "utf8mb4", "utf8", "utf8mb3", "ascii":
		return func(b []byte) (string, error) { return string(b), nil }, true, nil
	case "binary":
		return nil, false, nil
	case "latin1":
		// MySQL's latin1 is Windows-1252.
		dec := charmap.Windows1252.NewDecoder()
		return func(b []byte) (string, error) {
			if isASCII(b) {
				return string(b), nil
			}
			out, err := dec.Bytes(b)
			return string(out), err
		}, true, nil
	}
	return nil, false, fmt.Errorf("character set %s is not supported", charset)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asBytes(v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return nil, fmt.Errorf("unexpected %T for a string column", v)
}

func asString(v any) (string, error) {
	switch v := v.(type) {
	case []byte:
		return string(v), nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("unexpected %T", v)
}

// asInt64 reads the integers go-mysql decodes, and text.
func asInt64(v any) (int64, error) {
	switch v := v.(type) {
	case int8:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case []byte, string:
		s, _ := asString(v)
		return strconv.ParseInt(s, 10, 64)
	}
	return 0, fmt.Errorf("unexpected %T for an integer column", v)
}

func convInt32(v any) (any, error) {
	n, err := asInt64(v)
	return int32(n), err
}

func convInt64(v any) (any, error) { return asInt64(v) }

func convUint64(v any) (any, error) {
	switch v := v.(type) {
	case uint64:
		return v, nil
	case []byte, string:
		s, _ := asString(v)
		return strconv.ParseUint(s, 10, 64)
	}
	n, err := asInt64(v)
	return uint64(n), err
}

func convDecimal(scale int) converter {
	return func(v any) (any, error) {
		switch v := v.(type) {
		case decimal.Decimal:
			return capture.Decimal(v.StringFixed(int32(scale))), nil
		case []byte, string:
			s, _ := asString(v)
			return capture.Decimal(s), nil
		}
		return nil, fmt.Errorf("unexpected %T for a decimal column", v)
	}
}

func convFloat(v any) (any, error) {
	switch v := v.(type) {
	case float32:
		return v, nil
	case []byte, string:
		s, _ := asString(v)
		f, err := strconv.ParseFloat(s, 32)
		return float32(f), err
	}
	return nil, fmt.Errorf("unexpected %T for a float column", v)
}

func convDouble(v any) (any, error) {
	switch v := v.(type) {
	case float64:
		return v, nil
	case []byte, string:
		s, _ := asString(v)
		return strconv.ParseFloat(s, 64)
	}
	return nil, fmt.Errorf("unexpected %T for a double column", v)
}

// convBit renders bit(n) as n '0'/'1' characters, most significant first.
// The binlog gives an int64, a text query the big-endian bytes.
func convBit(n int) converter {
	return func(v any) (any, error) {
		var u uint64
		switch v := v.(type) {
		case int64:
			u = uint64(v)
		case []byte:
			for _, c := range v {
				u = u<<8 | uint64(c)
			}
		default:
			return nil, fmt.Errorf("unexpected %T for a bit column", v)
		}
		b := make([]byte, n)
		for i := range n {
			b[n-1-i] = '0' + byte(u>>i&1)
		}
		return string(b), nil
	}
}

// convEnum maps a binlog enum index (1-based; 0 is the empty error value)
// to its member; text passes through.
func convEnum(members []string) converter {
	return func(v any) (any, error) {
		if s, ok := v.([]byte); ok {
			return string(s), nil
		}
		i, err := asInt64(v)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			return "", nil
		}
		if i < 0 || int(i) > len(members) {
			return nil, fmt.Errorf("enum index %d out of %d members", i, len(members))
		}
		return members[i-1], nil
	}
}

// convSet maps a binlog set bitmap to its members joined by ","; text
// passes through.
func convSet(members []string) converter {
	return func(v any) (any, error) {
		if s, ok := v.([]byte); ok {
			return string(s), nil
		}
		i, err := asInt64(v)
		if err != nil {
			return nil, err
		}
		u := uint64(i)
		var b strings.Builder
		for u != 0 {
			k := bits.TrailingZeros64(u)
			u &^= 1 << k
			if k >= len(members) {
				return nil, fmt.Errorf("set bit %d out of %d members", k, len(members))
			}
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(members[k])
		}
		return b.String(), nil
	}
}

func convDate(v any) (any, error) { return asString(v) }

// convDatetime renders "2006-01-02 15:04:05[.ffffff]" (fsp digits) with a
// T; zero and partial dates pass through in the same layout.
func convDatetime(v any) (any, error) {
	s, err := asString(v)
	if err != nil {
		return nil, err
	}
	return strings.Replace(s, " ", "T", 1), nil
}

// convTimestamp reads "2006-01-02 15:04:05[.ffffff]" in UTC as an
// instant; the zero timestamp is the string "0000-00-00T00:00:00Z".
func convTimestamp(v any) (any, error) {
	s, err := asString(v)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(s, "0000-00-00") {
		return "0000-00-00T00:00:00Z", nil
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	if err != nil {
		return nil, fmt.Errorf("parse timestamp %q: %w", s, err)
	}
	return t, nil
}

// convTime renders "[-]HH:MM:SS" plus exactly fsp fraction digits.
func convTime(fsp int) converter {
	return func(v any) (any, error) {
		s, err := asString(v)
		if err != nil {
			return nil, err
		}
		whole, frac, _ := strings.Cut(s, ".")
		if fsp == 0 {
			return whole, nil
		}
		// Pad with as many zeros as fsp asks for: MySQL's fsp is at most
		// 6, but a corrupt table map may give more (a TIME2 meta of 103
		// made a fixed "000000" pad slice out of range and panic).
		frac = (frac + strings.Repeat("0", fsp))[:fsp]
		return whole + "." + frac, nil
	}
}

func convYear(v any) (any, error) { return convInt32(v) }

func convText(table, column, charset string) (converter, error) {
	dec, text, err := textDecoder(charset)
	if err != nil {
		return nil, retry.Terminal(fmt.Errorf("table %s column %s: %w: syncd reads utf8mb4, utf8, ascii, latin1 and binary", table, column, err))
	}
	if !text {
		return convBytes, nil
	}
	return func(v any) (any, error) {
		b, err := asBytes(v)
		if err != nil {
			return nil, err
		}
		return dec(b)
	}, nil
}

func convBytes(v any) (any, error) {
	b, err := asBytes(v)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// convBinary pads binary(n) values to n bytes, as the server stores them;
// the binlog leaves out trailing zero bytes.
func convBinary(n int) converter {
	return func(v any) (any, error) {
		b, err := asBytes(v)
		if err != nil {
			return nil, err
		}
		out := make([]byte, max(n, len(b)))
		copy(out, b)
		return out, nil
	}
}

func convJSON(v any) (any, error) {
	s, err := asString(v)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return capture.JSON("null"), nil
	}
	return capture.JSON(s), nil
}

// convGeometry strips the 4-byte SRID the server stores before the WKB.
func convGeometry(v any) (any, error) {
	b, err := asBytes(v)
	if err != nil {
		return nil, err
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("geometry value of %d bytes", len(b))
	}
	return append([]byte(nil), b[4:]...), nil
}

// quoteMembers renders enum or set members as the server's COLUMN_TYPE
// does (which the snapshot publishes and MySQL targets parse): 'a','b'
// with quotes doubled and backslashes escaped.
func quoteMembers(members []string) string {
	q := make([]string, len(members))
	for i, m := range members {
		q[i] = quoteString(m)
	}
	return strings.Join(q, ",")
}
