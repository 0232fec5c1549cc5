package mysql

import (
	"errors"
	"fmt"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

// TestValues writes wire values of every mapped type into tables created
// from a PostgreSQL and a MySQL schema, and reads back what MariaDB holds.
// Values the target cannot hold faithfully are rejected, never stored as
// something else.
func TestValues(t *testing.T) {
	const rejected = "REJECTED"
	tests := []struct {
		ts    *router.TableSchema
		col   string
		value string // wire JSON
		want  string // the column's text at the target, or rejected
	}{
		{pgTypes, "i2", `32767`, "32767"},
		{pgTypes, "i2", `32768`, rejected},
		{pgTypes, "i4", `-2147483648`, "-2147483648"},
		{pgTypes, "i4", `1.5`, rejected},
		{pgTypes, "n", `"199.90"`, "199.90"},
		{pgTypes, "n", `"-0.5"`, "-0.50"},
		{pgTypes, "n", `"12345678901.00"`, rejected}, // out of range
		{pgTypes, "n", `"1.005"`, rejected},          // would round
		{pgTypes, "n", `"1.5000"`, "1.50"},           // trailing zeros are no digits
		{pgTypes, "n", `"NaN"`, rejected},
		{pgTypes, "nn", `"123456789012345678901234567890.123456789012345678901234567890"`, "123456789012345678901234567890.123456789012345678901234567890"},
		{pgTypes, "nn", `"1.50"`, "1.500000000000000000000000000000"},
		{pgTypes, "nn", `"0.0000000000000000000000000000001"`, rejected},
		{pgTypes, "nn", `"123456789012345678901234567890123456"`, rejected},
		{pgTypes, "nn", `"Infinity"`, rejected},
		{pgTypes, "r", `1.5`, "1.5"},
		{pgTypes, "r", `"NaN"`, rejected},
		{pgTypes, "d", `1e308`, "1e+308"},
		{pgTypes, "d", `-0.000001`, "-1e-06"},
		{pgTypes, "d", `0.1`, "0.1"},
		{pgTypes, "d", `"-Infinity"`, rejected},
		{pgTypes, "b", `true`, "1"},
		{pgTypes, "b", `false`, "0"},
		{pgTypes, "t", `"ü 'q' \\ \"d\" 😀 ?"`, `ü 'q' \ "d" 😀 ?`},
		{pgTypes, "t", `""`, ""},
		{pgTypes, "t", `null`, "∅"},
		{pgTypes, "vc", `"12345678901234567890"`, "12345678901234567890"},
		{pgTypes, "vc", `"123456789012345678901"`, rejected},
		{pgTypes, "c", `"ab "`, "ab"},
		{pgTypes, "by", `"AP8nXA=="`, "00FF275C"},
		{pgTypes, "by", `""`, ""},
		{pgTypes, "by", `"!!"`, rejected},
		{pgTypes, "dt", `"2026-03-01"`, "2026-03-01"},
		{pgTypes, "dt", `"0001-01-01"`, "0001-01-01"},
		{pgTypes, "dt", `"infinity"`, rejected},
		{pgTypes, "dt", `"0044-03-15 BC"`, rejected},
		{pgTypes, "ts", `"2026-03-01T10:00:00.123456"`, "2026-03-01 10:00:00.123456"},
		{pgTypes, "ts", `"-infinity"`, rejected},
		{pgTypes, "ts3", `"2026-03-01T10:00:00.123"`, "2026-03-01 10:00:00.123"},
		{pgTypes, "tz", `"2026-03-01T10:00:00.123456Z"`, "2026-03-01 10:00:00.123456"},
		{pgTypes, "tz", `"2026-03-01T12:00:00+02:00"`, "2026-03-01 10:00:00.000000"},
		{pgTypes, "tz", `"infinity"`, rejected},
		{pgTypes, "tz", `"10000-01-01T00:00:00Z"`, rejected},
		{pgTypes, "tm", `"10:00:00"`, "10:00:00.000000"},
		{pgTypes, "tm", `"24:00:00"`, "24:00:00.000000"},
		{pgTypes, "u", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{pgTypes, "j", `{"b":1, "a":[1,"x"]}`, `{"b":1, "a":[1,"x"]}`},
		{pgTypes, "jb", `"just a string"`, `"just a string"`},
		{pgTypes, "jb", `[]`, `[]`},
		{pgTypes, "a", `[1,2,null]`, "[1,2,null]"},
		{pgTypes, "a", `[[1,2],[3,4]]`, "[[1,2],[3,4]]"},
		{pgTypes, "iv", `"P1DT2H"`, "P1DT2H"},
		{pgTypes, "bits", `"1010000001"`, "1010000001"},
		{pgTypes, "bits", `"0000000000"`, "0"},
		{pgTypes, "bits", `"102"`, rejected},
		{pgTypes, "ip", `"192.168.0.1/24"`, "192.168.0.1/24"},
		{pgTypes, "m", `"happy"`, "happy"},
		{pgTypes, "ttz", `"10:00:00+02"`, "10:00:00+02"},
		{pgTypes, "t", `{"an":"object"}`, rejected},

		{myTypes, "ti", `1`, "1"},
		{myTypes, "ti", `-128`, "-128"},
		{myTypes, "bi", `"18446744073709551615"`, "18446744073709551615"},
		{myTypes, "bi", `"-1"`, rejected},
		{myTypes, "dc", `"-12.50"`, "-12.50"},
		{myTypes, "f", `1.25`, "1.25"},
		{myTypes, "db", `2.5`, "2.5"},
		{myTypes, "bt", `"10101"`, "10101"},
		{myTypes, "bt", `"111111"`, rejected}, // 6 bits in bit(5)
		{myTypes, "e", `"b'c"`, "b'c"},
		{myTypes, "e", `"d\\e"`, `d\e`},
		{myTypes, "e", `"zzz"`, rejected},
		{myTypes, "st", `"x,y"`, "x,y"},
		{myTypes, "st", `""`, ""},
		{myTypes, "bin", `"AQIDBA=="`, "01020304"},
		{myTypes, "bin", `"AQIDBAU="`, rejected}, // 5 bytes in binary(4)
		{myTypes, "vb", `"AA=="`, "00"},
		{myTypes, "bl", `"aGVsbG8="`, "68656C6C6F"},
		{myTypes, "tx", `"text"`, "text"},
		{myTypes, "dt", `"0000-00-00"`, "0000-00-00"},
		{myTypes, "dt", `"2024-02-00"`, "2024-02-00"},
		{myTypes, "dt", `"2024-02-30"`, rejected},
		{myTypes, "dtt", `"0000-00-00T00:00:00"`, "0000-00-00 00:00:00.000000"},
		{myTypes, "dtt", `"2026-03-01T10:00:00.5"`, "2026-03-01 10:00:00.500000"},
		{myTypes, "tss", `"0000-00-00T00:00:00Z"`, "0000-00-00 00:00:00"},
		{myTypes, "tss", `"2026-03-01T10:00:00Z"`, "2026-03-01 10:00:00"},
		{myTypes, "tss", `"1960-01-01T00:00:00Z"`, rejected}, // before TIMESTAMP's range
		{myTypes, "tm", `"-838:59:59"`, "-838:59:59.000"},
		{myTypes, "tm", `"12:00:00.5"`, "12:00:00.500"},
		{myTypes, "y", `2024`, "2024"},
		{myTypes, "y", `0`, "0"}, // the zero year, not 2000,
		{myTypes, "j", `{"a":1}`, `{"a":1}`},
	}
	e := newEnv(t)
	e.prepare(pgTypes, myTypes)
	ctx := applytest.Context(t)
	tx, err := e.tg.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		after := fmt.Sprintf(`{"id":%d,%q:%s}`, i, tt.col, tt.value)
		key := fmt.Sprintf(`{"id":%d}`, i)
		if tt.ts == pgTypes {
			after = fmt.Sprintf(`{"id":"%d","code":"k",%q:%s}`, i, tt.col, tt.value)
			key = fmt.Sprintf(`{"id":"%d","code":"k"}`, i)
		}
		err := tx.Apply(ctx, applytest.Change(tt.ts, capture.OpInsert, key, "", after))
		var rej *apply.RejectedError
		switch {
		case tt.want == rejected && !errors.As(err, &rej):
			t.Errorf("%s %s: Apply = %v, want a RejectedError", tt.col, tt.value, err)
		case tt.want == rejected:
			t.Logf("%s %s: %v", tt.col, tt.value, err)
		case err != nil:
			t.Fatalf("%s %s: Apply = %v", tt.col, tt.value, err)
		}
	}
	if err := tx.Commit(ctx, applytest.Record(1)); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		if tt.want == rejected {
			continue
		}
		expr := quote(tt.col)
		switch tt.col {
		case "by", "bin", "vb", "bl":
			expr = "HEX(" + expr + ")"
		case "bits", "bt":
			expr = "BIN(" + expr + ")"
		}
		got := e.rows(fmt.Sprintf("SELECT %s FROM %s WHERE id = ?", expr, quote(tt.ts.Target.Name)), i)
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s %s: stored %q, want %q", tt.col, tt.value, got, tt.want)
		}
	}
}
