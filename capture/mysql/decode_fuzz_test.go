package mysql

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/shopspring/decimal"

	"github.com/syncd-dev/syncd/capture"
)

// fuzzCharsets are the character sets FuzzDecodeRow gives text columns;
// "" is a column without one.
var fuzzCharsets = []charsetInfo{{"utf8mb4", 4}, {"latin1", 1}, {"binary", 1}, {"", 0}, {"ascii", 1}, {"ucs2", 2}}

// FuzzDecodeRow feeds the binlog row value converters a column type and
// metadata, and a raw value in one of the forms go-mysql's row decoder and
// the text protocol produce: integers of each width, floats, decimals,
// strings and bytes. Converting never panics; a value that converts is of
// a type of the capture value contract; and an integer within the column's
// range, raw or as its decimal text, converts to itself.
// Seeds are in testdata/fuzz/FuzzDecodeRow.
func FuzzDecodeRow(f *testing.F) {
	f.Add(gomysql.MYSQL_TYPE_TINY, uint16(0), true, byte(9), "255", int64(255), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_LONG, uint16(0), false, byte(3), "-2147483648", int64(math.MinInt32), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_LONGLONG, uint16(0), true, byte(7), "18446744073709551615", int64(-1), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_NEWDECIMAL, uint16(65<<8|30), false, byte(12), "-12345678901234567890123456789012345.123456789012345678901234567890", int64(0), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_BIT, uint16(8<<8|0), false, byte(4), "", int64(-1), []byte{0x80, 1})
	f.Add(gomysql.MYSQL_TYPE_STRING, uint16(gomysql.MYSQL_TYPE_ENUM)<<8|1, false, byte(2), "b'c", int64(2), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_STRING, uint16(gomysql.MYSQL_TYPE_SET)<<8|1, false, byte(3), "x,z", int64(5), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_TIMESTAMP2, uint16(3), false, byte(13), "2024-01-02 03:04:05.5", int64(0), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_TIME2, uint16(6), false, byte(13), "-838:59:59.000001", int64(0), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_DATETIME2, uint16(6), false, byte(13), "0000-00-00 00:00:00", int64(0), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_VARCHAR, uint16(40), false, byte(0x21), "café €", int64(0), []byte("caf\xe9 \x80"))
	f.Add(gomysql.MYSQL_TYPE_STRING, uint16(0xfe<<8|4), false, byte(0x2e), "", int64(0), []byte("ab"))
	f.Add(gomysql.MYSQL_TYPE_BLOB, uint16(2), false, byte(0x0e), "", int64(0), []byte{1, 2})
	f.Add(gomysql.MYSQL_TYPE_JSON, uint16(4), false, byte(13), `{"a": [1, 2]}`, int64(0), []byte(nil))
	f.Add(gomysql.MYSQL_TYPE_GEOMETRY, uint16(4), false, byte(14), "", int64(0), []byte{0, 0, 0, 0, 1, 1, 0, 0, 0})
	f.Add(gomysql.MYSQL_TYPE_YEAR, uint16(0), false, byte(1), "2024", int64(2024), []byte(nil))
	f.Fuzz(func(t *testing.T, tp byte, meta uint16, unsigned bool, form byte, s string, n int64, b []byte) {
		cs := fuzzCharsets[int(form>>4)%len(fuzzCharsets)]
		id := capture.TableID{Schema: "s", Name: "t"}
		enum, set := []string{"a", "b'c", "x,y"}, []string{"x", "y", "z"}
		typ, conv, err := columnType(id, "c", tp, meta, unsigned, cs, enum, set)
		if err != nil {
			return
		}
		if typ == "" {
			t.Fatalf("columnType(%d, %d) has no name", tp, meta)
		}
		var raw any
		switch form % 16 {
		case 0:
			raw = int8(n)
		case 1:
			raw = int16(n)
		case 2:
			raw = int32(n)
		case 3:
			raw = n
		case 4:
			raw = uint8(n)
		case 5:
			raw = uint16(n)
		case 6:
			raw = uint32(n)
		case 7:
			raw = uint64(n)
		case 8:
			raw = float32(math.Float64frombits(uint64(n)))
		case 9:
			raw = math.Float64frombits(uint64(n))
		case 10:
			raw = int(n)
		case 11, 12:
			d, err := decimal.NewFromString(s)
			if err != nil {
				d = decimal.New(n, int32(form)-128)
			}
			raw = d
		case 13:
			raw = s
		default:
			raw = b
		}
		v, err := conv(raw)
		if err != nil {
			return
		}
		switch v.(type) {
		case bool, int32, int64, uint64, float32, float64, capture.Decimal, string, []byte, time.Time, capture.JSON:
		default:
			t.Fatalf("%s: %T %#v converts to %T %#v, outside the value contract", typ, raw, raw, v, v)
		}
		checkIntRoundTrip(t, typ, conv, raw)
	})
}

// binlogInts are the Go types go-mysql decodes integer columns to.
var binlogInts = map[string]string{
	"tinyint": "int8", "tinyint unsigned": "uint8", "smallint": "int16", "smallint unsigned": "uint16",
	"mediumint": "int32", "mediumint unsigned": "uint32", "int": "int32", "int unsigned": "uint32",
	"bigint": "int64", "bigint unsigned": "uint64", "year": "int",
}

// intRanges are the integer column types and the range of their values.
var intRanges = map[string][2]float64{
	"tinyint": {math.MinInt8, math.MaxInt8}, "tinyint unsigned": {0, math.MaxUint8},
	"smallint": {math.MinInt16, math.MaxInt16}, "smallint unsigned": {0, math.MaxUint16},
	"mediumint": {-1 << 23, 1<<23 - 1}, "mediumint unsigned": {0, 1<<24 - 1},
	"int": {math.MinInt32, math.MaxInt32}, "int unsigned": {0, math.MaxUint32},
	"bigint": {math.MinInt64, math.MaxInt64}, "bigint unsigned": {0, math.MaxUint64},
	"year": {0, 2155},
}

// checkIntRoundTrip wants an integer within an integer column's range, as
// its decimal text or in the Go type go-mysql decodes the column to, to
// convert to itself.
func checkIntRoundTrip(t *testing.T, typ string, conv converter, raw any) {
	r, ok := intRanges[typ]
	if !ok {
		return
	}
	var text string
	switch raw := raw.(type) {
	case int8, int16, int32, int64, int:
		text = strconv.FormatInt(asInt(raw), 10)
	case uint8, uint16, uint32, uint64:
		text = strconv.FormatUint(asUint(raw), 10)
	case string:
		text = raw
	case []byte:
		text = string(raw)
	default:
		return
	}
	// Only canonical decimal text within the range: no sign on positives,
	// no leading zeros.
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		if strconv.FormatInt(i, 10) != text || float64(i) < r[0] || float64(i) > r[1] {
			return
		}
	} else if u, err := strconv.ParseUint(text, 10, 64); err != nil || strconv.FormatUint(u, 10) != text || typ != "bigint unsigned" {
		return
	}
	ins := []any{text, []byte(text)}
	if fmt.Sprintf("%T", raw) == binlogInts[typ] {
		ins = append(ins, raw)
	}
	for _, in := range ins {
		v, err := conv(in)
		if err != nil {
			t.Fatalf("%s: %T %v: %v", typ, in, in, err)
		}
		var got string
		switch v := v.(type) {
		case int32:
			got = strconv.FormatInt(int64(v), 10)
		case int64:
			got = strconv.FormatInt(v, 10)
		case uint64:
			got = strconv.FormatUint(v, 10)
		default:
			t.Fatalf("%s: %T %v converts to %T %v", typ, in, in, v, v)
		}
		if got != text {
			t.Fatalf("%s: %T %v converts to %s", typ, in, in, got)
		}
	}
}

func asInt(v any) int64 {
	switch v := v.(type) {
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case int:
		return int64(v)
	}
	return v.(int64)
}

func asUint(v any) uint64 {
	switch v := v.(type) {
	case uint8:
		return uint64(v)
	case uint16:
		return uint64(v)
	case uint32:
		return uint64(v)
	}
	return v.(uint64)
}
