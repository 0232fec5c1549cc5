package router

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

var testNow = time.UnixMilli(1772359200130)

func TestAppendValue(t *testing.T) {
	ts := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.FixedZone("x", 3600))
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"null", nil, `null`},
		{"bool", true, `true`},
		{"int32", int32(-42), `-42`},
		{"int64 as string", int64(9007199254740993), `"9007199254740993"`},
		{"uint64 as string", uint64(math.MaxUint64), `"18446744073709551615"`},
		{"float32 shortest", float32(0.1), `0.1`},
		{"float64", 1e21, `1e+21`},
		{"NaN", math.NaN(), `"NaN"`},
		{"-Inf", float32(math.Inf(-1)), `"-Infinity"`},
		{"decimal exact", capture.Decimal("199.90"), `"199.90"`},
		{"string escapes", "a\"b\\c\n\t\x01é", `"a\"b\\c\n\t\u0001é"`},
		{"invalid utf-8", "a\xffb", `"a\ufffdb"`},
		{"bytes base64", []byte{0, 1, 2, 255}, `"AAEC/w=="`},
		{"instant in UTC", ts, `"2026-03-01T09:00:00.123456Z"`},
		{"json embedded", capture.JSON(`{"a": [1, 2]}`), `{"a": [1, 2]}`},
		{"array", []any{int32(1), nil, []any{"x"}}, `[1,null,["x"]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendValue(nil, tt.v))
			if got != tt.want {
				t.Fatalf("appendValue(%#v) = %s, want %s", tt.v, got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("appendValue(%#v) = %s is not valid JSON", tt.v, got)
			}
		})
	}
}

// FuzzAppendString checks that strings round-trip through JSON as
// encoding/json reads them.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x1f\x7f", "é€𝄞", "\xff\xfe", "<script>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var w string
		json.Unmarshal(want, &w)
		if got != w {
			t.Fatalf("appendString(%q) reads back %q, encoding/json gives %q", s, got, w)
		}
	})
}
