package postgres

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/syncd-dev/syncd/capture"
)

// sameValue reports whether two capture values are equal: floats bit for
// bit (NaN equals NaN, -0 differs from 0), times as the same instant in
// UTC, arrays element by element.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		return ok && (math.Float64bits(g) == math.Float64bits(w) || math.IsNaN(g) && math.IsNaN(w))
	case float32:
		g, ok := got.(float32)
		return ok && (math.Float32bits(g) == math.Float32bits(w) || g != g && w != w)
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w) && g.Location() == time.UTC
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(g, w) && g != nil
	case []any:
		g, ok := got.([]any)
		if !ok || g == nil || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameValue(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return got == want
}

func TestScalarDecoders(t *testing.T) {
	tests := []struct {
		name    string
		dec     decoder
		text    string
		want    any
		wantErr bool
	}{
		{name: "bool t", dec: decodeBool, text: "t", want: true},
		{name: "bool f", dec: decodeBool, text: "f", want: false},
		{name: "bool true", dec: decodeBool, text: "true", wantErr: true},
		{name: "bool empty", dec: decodeBool, text: "", wantErr: true},
		{name: "int2", dec: decodeInt2, text: "-32768", want: int32(-32768)},
		{name: "int2 overflow", dec: decodeInt2, text: "32768", wantErr: true},
		{name: "int4", dec: decodeInt4, text: "2147483647", want: int32(2147483647)},
		{name: "int4 overflow", dec: decodeInt4, text: "2147483648", wantErr: true},
		{name: "int8 min", dec: decodeInt8, text: "-9223372036854775808", want: int64(math.MinInt64)},
		{name: "int8 overflow", dec: decodeInt8, text: "9223372036854775808", wantErr: true},
		{name: "int8 junk", dec: decodeInt8, text: "12a", wantErr: true},
		{name: "int8 empty", dec: decodeInt8, text: "", wantErr: true},
		{name: "oid max", dec: decodeOID, text: "4294967295", want: int64(math.MaxUint32)},
		{name: "oid negative", dec: decodeOID, text: "-1", wantErr: true},
		{name: "xid", dec: decodeXID, text: "771", want: int64(771)},
		{name: "cid", dec: decodeCID, text: "0", want: int64(0)},
		{name: "xid8 max", dec: decodeXID8, text: "18446744073709551615", want: uint64(math.MaxUint64)},
		{name: "float4", dec: decodeFloat4, text: "0.1", want: float32(0.1)},
		{name: "float4 NaN", dec: decodeFloat4, text: "NaN", want: float32(math.NaN())},
		{name: "float4 -Infinity", dec: decodeFloat4, text: "-Infinity", want: float32(math.Inf(-1))},
		{name: "float4 -0", dec: decodeFloat4, text: "-0", want: float32(math.Copysign(0, -1))},
		{name: "float4 overflow", dec: decodeFloat4, text: "1e39", wantErr: true},
		{name: "float8", dec: decodeFloat8, text: "1.7976931348623157e+308", want: math.MaxFloat64},
		{name: "float8 Infinity", dec: decodeFloat8, text: "Infinity", want: math.Inf(1)},
		{name: "float8 NaN", dec: decodeFloat8, text: "NaN", want: math.NaN()},
		{name: "float8 junk", dec: decodeFloat8, text: "1,5", wantErr: true},
		{name: "numeric", dec: decodeNumeric, text: "-12345678901234567890.123456789012345", want: capture.Decimal("-12345678901234567890.123456789012345")},
		{name: "numeric NaN", dec: decodeNumeric, text: "NaN", want: capture.Decimal("NaN")},
		{name: "json", dec: decodeJSON, text: `{"a": [1]}`, want: capture.JSON(`{"a": [1]}`)},
		{name: "string", dec: decodeString, text: "héllo", want: "héllo"},
		{name: "string empty", dec: decodeString, text: "", want: ""},
		{name: "bytea hex", dec: decodeBytea, text: `\x00ff10`, want: []byte{0, 0xff, 0x10}},
		{name: "bytea hex upper", dec: decodeBytea, text: `\xABCD`, want: []byte{0xab, 0xcd}},
		{name: "bytea empty", dec: decodeBytea, text: `\x`, want: []byte{}},
		{name: "bytea odd", dec: decodeBytea, text: `\x0`, wantErr: true},
		{name: "bytea bad hex", dec: decodeBytea, text: `\xzz`, wantErr: true},
		{name: "bytea escape", dec: decodeBytea, text: `a\\b\000\377`, want: []byte{'a', '\\', 'b', 0, 0xff}},
		{name: "bytea escape empty", dec: decodeBytea, text: ``, want: []byte{}},
		{name: "bytea escape bad", dec: decodeBytea, text: `\400`, wantErr: true},
		{name: "bytea escape short", dec: decodeBytea, text: `\12`, wantErr: true},
		{name: "timestamp", dec: decodeTimestamp, text: "2024-01-02 03:04:05.123456", want: "2024-01-02T03:04:05.123456"},
		{name: "timestamp BC", dec: decodeTimestamp, text: "0044-03-15 12:00:00 BC", want: "0044-03-15T12:00:00 BC"},
		{name: "timestamp big year", dec: decodeTimestamp, text: "294276-12-31 23:59:59.999999", want: "294276-12-31T23:59:59.999999"},
		{name: "timestamp infinity", dec: decodeTimestamp, text: "infinity", want: "infinity"},
		{name: "timestamptz infinity", dec: decodeTimestamptz, text: "infinity", want: "infinity"},
		{name: "timestamptz -infinity", dec: decodeTimestamptz, text: "-infinity", want: "-infinity"},
		{name: "timestamptz", dec: decodeTimestamptz, text: "2024-01-02 03:04:05.123456+00", want: utc(2024, 1, 2, 3, 4, 5, 123456000)},
		{name: "timestamptz bad", dec: decodeTimestamptz, text: "2024-01-02T03:04:05Z", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.dec([]byte(tt.text))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decode %q = %#v, want error", tt.text, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode %q: %v", tt.text, err)
			}
			if !sameValue(got, tt.want) {
				t.Errorf("decode %q = %#v, want %#v", tt.text, got, tt.want)
			}
		})
	}
}

func TestParseTimestamptz(t *testing.T) {
	tests := []struct {
		text string
		want time.Time
		bad  bool
	}{
		{text: "2024-01-02 03:04:05+00", want: utc(2024, 1, 2, 3, 4, 5, 0)},
		{text: "2024-01-02 03:04:05.5+00", want: utc(2024, 1, 2, 3, 4, 5, 5e8)},
		{text: "2024-01-02 03:04:05.000001+00", want: utc(2024, 1, 2, 3, 4, 5, 1000)},
		{text: "2024-01-02 03:04:05.123456789+00", want: utc(2024, 1, 2, 3, 4, 5, 123456789)},
		{text: "2024-01-02 03:04:05+05:30", want: utc(2024, 1, 1, 21, 34, 5, 0)},
		{text: "2024-01-02 03:04:05-08", want: utc(2024, 1, 2, 11, 4, 5, 0)},
		// Local mean time offsets have seconds (Europe/Amsterdam before 1835).
		{text: "1800-01-01 00:19:32+00:19:32", want: utc(1800, 1, 1, 0, 0, 0, 0)},
		{text: "0001-01-01 00:00:00+00", want: utc(1, 1, 1, 0, 0, 0, 0)},
		{text: "0001-12-31 23:59:59.999999+00 BC", want: utc(0, 12, 31, 23, 59, 59, 999999000)},
		{text: "4713-01-01 00:00:00+00 BC", want: utc(-4712, 1, 1, 0, 0, 0, 0)},
		{text: "10000-01-01 00:00:00+00", want: utc(10000, 1, 1, 0, 0, 0, 0)},
		{text: "294276-12-31 23:59:59.999999+00", want: utc(294276, 12, 31, 23, 59, 59, 999999000)},
		{text: "", bad: true},
		{text: "2024-01-02", bad: true},
		{text: "2024-01-02 03:04:05", bad: true},
		{text: "2024-01-02 03:04:05+0", bad: true},
		{text: "2024-01-02 03:04:05.+00", bad: true},
		{text: "2024-01-02 03:04:05.1234567890+00", bad: true},
		{text: "2024-13-02 03:04:05+00", bad: true},
		{text: "2024-00-02 03:04:05+00", bad: true},
		{text: "2024-01-32 03:04:05+00", bad: true},
		{text: "2024-01-02 24:04:05+00", bad: true},
		{text: "2024-01-02 03:60:05+00", bad: true},
		{text: "2024-1-02 03:04:05+00", bad: true},
		{text: "2024-01-02 03:04:05+00 AD", bad: true},
		{text: "2024-01-02 03:04:05+00 BC ", bad: true},
		{text: "12345678-01-02 03:04:05+00", bad: true},
		{text: "2024-01-02 03:04:05+00:00:00:00", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, ok := parseTimestamptz([]byte(tt.text))
			if tt.bad {
				if ok {
					t.Fatalf("parse %q = %v, want failure", tt.text, got)
				}
				return
			}
			if !ok {
				t.Fatalf("parse %q failed", tt.text)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("parse %q = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}

func TestDecodeErrorNamesType(t *testing.T) {
	_, err := decodeInt8([]byte("x"))
	if err == nil || err.Error() != `decode int8: strconv.ParseInt: parsing "x": invalid syntax` {
		t.Errorf("error = %v", err)
	}
	_, err = decodeTimestamptz([]byte("yesterday"))
	if !errors.Is(err, errSyntax) || err.Error() != `decode timestamptz: "yesterday": invalid syntax` {
		t.Errorf("error = %v", err)
	}
	_, err = newTypeCache().decoder(pgtype.Int4ArrayOID)([]byte("{1,x}"))
	if err == nil || err.Error() != `decode _int4: element at byte 4: decode int4: strconv.ParseInt: parsing "x": invalid syntax` {
		t.Errorf("error = %v", err)
	}
}

// TestCacheDecoder checks which decoder a type gets, with custom types
// entered as resolve would load them.
func TestCacheDecoder(t *testing.T) {
	c := newTypeCache()
	for _, ti := range []typeInfo{
		{OID: 16400, Name: "price", Type: 'd', Category: 'N', Base: pgtype.NumericOID, Delim: ','},
		{OID: 16401, Name: "_price", Type: 'b', Category: 'A', Elem: 16400, Delim: ','},
		{OID: 16402, Name: "price2", Type: 'd', Category: 'N', Base: 16400, Delim: ','},
		{OID: 16403, Name: "intarr", Type: 'd', Category: 'A', Base: pgtype.Int4ArrayOID, Delim: ','},
		{OID: 16404, Name: "mood", Type: 'e', Category: 'E', Delim: ','},
		{OID: 16405, Name: "_mood", Type: 'b', Category: 'A', Elem: 16404, Delim: ','},
		{OID: 16406, Name: "pair", Type: 'c', Category: 'C', Delim: ','},
		{OID: 16407, Name: "citext", Type: 'b', Category: 'S', Delim: ','},
		{OID: 16408, Name: "loop", Type: 'd', Category: 'N', Base: 16408, Delim: ','},
	} {
		c.loaded[ti.OID] = ti
	}
	tests := []struct {
		name string
		oid  uint32
		text string
		want any
	}{
		{"int8", pgtype.Int8OID, "42", int64(42)},
		{"text", pgtype.TextOID, "x", "x"},
		{"uuid", pgtype.UUIDOID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"unknown", 99999, "12", "12"},
		{"int2vector", int2vectorOID, "1 2", "1 2"},
		{"oidvector", oidvectorOID, "1 2", "1 2"},
		{"regclass", regclassOID, "12", "12"},
		{"box[]", pgtype.BoxArrayOID, "{(1,1),(0,0);(3,3),(2,2)}", []any{"(1,1),(0,0)", "(3,3),(2,2)"}},
		{"domain", 16400, "1.50", capture.Decimal("1.50")},
		{"domain[]", 16401, "{1.50,NULL}", []any{capture.Decimal("1.50"), nil}},
		{"domain over domain", 16402, "2", capture.Decimal("2")},
		{"domain over array", 16403, "{1,2}", []any{int32(1), int32(2)}},
		{"enum", 16404, "happy", "happy"},
		{"enum[]", 16405, `{happy,"a b"}`, []any{"happy", "a b"}},
		{"composite", 16406, `(1,"x y")`, `(1,"x y")`},
		{"extension base type", 16407, "AbC", "AbC"},
		{"domain cycle", 16408, "7", "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.decoder(tt.oid)([]byte(tt.text))
			if err != nil {
				t.Fatalf("decode %q: %v", tt.text, err)
			}
			if !sameValue(got, tt.want) {
				t.Errorf("decode %q = %#v, want %#v", tt.text, got, tt.want)
			}
		})
	}
}

// TestDecodeAllocs pins the allocations of the hot scalar decoders: the
// boxed value and, for text, the string's bytes.
func TestDecodeAllocs(t *testing.T) {
	tests := []struct {
		name   string
		dec    decoder
		text   string
		allocs float64
	}{
		{"bool", decodeBool, "t", 0},
		{"int8 small", decodeInt8, "42", 0},
		{"int8", decodeInt8, "9223372036854775807", 1},
		{"int4", decodeInt4, "-2147483648", 1},
		{"float8", decodeFloat8, "-1.7976931348623157e+308", 1},
		{"numeric", decodeNumeric, "12345678901234567890.123456789012345", 2},
		{"text", decodeString, "hello, world", 2},
		{"timestamptz", decodeTimestamptz, "2024-01-02 03:04:05.123456+00", 1},
		{"timestamp", decodeTimestamp, "2024-01-02 03:04:05.123456", 2},
		{"bytea", decodeBytea, `\x0001020304`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := []byte(tt.text)
			got := testing.AllocsPerRun(100, func() {
				if _, err := tt.dec(text); err != nil {
					t.Fatal(err)
				}
			})
			if got > tt.allocs {
				t.Errorf("allocs = %v, want at most %v", got, tt.allocs)
			}
		})
	}
}

// BenchmarkDecodeRow decodes a narrow row: int8, text, numeric,
// timestamptz, bool.
func BenchmarkDecodeRow(b *testing.B) {
	c := newTypeCache()
	oids := []uint32{pgtype.Int8OID, pgtype.TextOID, pgtype.NumericOID, pgtype.TimestamptzOID, pgtype.BoolOID}
	decs := make([]decoder, len(oids))
	for i, oid := range oids {
		decs[i] = c.decoder(oid)
	}
	texts := [][]byte{
		[]byte("1234567890123"),
		[]byte("customer@example.com"),
		[]byte("199.90"),
		[]byte("2026-03-01 10:00:00.123456+00"),
		[]byte("t"),
	}
	row := make([]any, len(decs))
	var bytes int64
	for _, t := range texts {
		bytes += int64(len(t))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		for i, dec := range decs {
			v, err := dec(texts[i])
			if err != nil {
				b.Fatal(err)
			}
			row[i] = v
		}
	}
}

// FuzzParseTimestamptz checks that parseTimestamptz never panics and that
// what it accepts in years 1 to 9999 survives a round trip through the
// form PostgreSQL sends in UTC.
func FuzzParseTimestamptz(f *testing.F) {
	for _, s := range []string{
		"2024-01-02 03:04:05.123456+00", "1800-01-01 00:19:32+00:19:32", "0044-03-15 12:00:00+05:30 BC",
		"294276-12-31 23:59:59.999999+00", "2024-01-02 03:04:05-08",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, ok := parseTimestamptz([]byte(text))
		if !ok || got.Year() < 1 || got.Year() > 9999 {
			return
		}
		again := got.Format("2006-01-02 15:04:05.999999999") + "+00"
		back, ok := parseTimestamptz([]byte(again))
		if !ok || !back.Equal(got) {
			t.Fatalf("parse %q = %v, parse %q = %v, %v", text, got, again, back, ok)
		}
	})
}

// BenchmarkParseInsert parses the Insert message of a narrow row (the
// row of BenchmarkDecodeRow) with syncd's parser and with pglogrepl's.
func BenchmarkParseInsert(b *testing.B) {
	msg := []byte{'I', 0, 0, 0x40, 0x01, 'N', 0, 5}
	for _, v := range []string{"1234567890123", "customer@example.com", "199.90", "2026-03-01 10:00:00.123456+00", "t"} {
		msg = append(msg, 't')
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(v)))
		msg = append(msg, v...)
	}
	for _, p := range []struct {
		name  string
		parse func([]byte) (pglogrepl.Message, error)
	}{{"syncd", parseMessage}, {"pglogrepl", pglogrepl.Parse}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.parse(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
