package capture

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// KeyString returns a text that identifies the values of row at the
// indexes key, equal for equal values of the same types, so that a
// chunked backfill can match the rows it read with the rows the log
// changed (both decoded by the same decoders). Values of different types
// never give the same text.
func KeyString(row Row, key []int) string {
	b := make([]byte, 0, 16*len(key))
	for _, i := range key {
		b = appendKeyValue(b, row[i])
		b = append(b, 0)
	}
	return string(b)
}

func appendKeyValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case int32:
		return strconv.AppendInt(append(b, 'i'), int64(v), 10)
	case int64:
		return strconv.AppendInt(append(b, 'i'), v, 10)
	case uint64:
		return strconv.AppendUint(append(b, 'u'), v, 10)
	case string:
		return strconv.AppendQuote(append(b, 's'), v)
	case Decimal:
		return strconv.AppendQuote(append(b, 'd'), string(v))
	case []byte:
		return hex.AppendEncode(append(b, 'b'), v)
	case time.Time:
		return v.UTC().AppendFormat(append(b, 't'), time.RFC3339Nano)
	case bool:
		return strconv.AppendBool(append(b, 'o'), v)
	}
	return fmt.Appendf(append(b, '?'), "%T:%v", v, v)
}

// HasAbsent reports whether row leaves out a value (see Absent).
func HasAbsent(row Row) bool {
	for _, v := range row {
		if v == Absent {
			return true
		}
	}
	return false
}
