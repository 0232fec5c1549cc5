package sqlserver

// Layer 1: the conversion of wire values to go-mssqldb parameters, no
// I/O. That SQL Server converts each parameter to the column's type as
// the comments say is realserver_test.go's to prove.

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestConvert(t *testing.T) {
	for _, tt := range []struct {
		name    string
		col     column
		raw     string
		want    any
		wantErr bool
	}{
		{name: "null", col: column{kind: kindInt}, raw: `null`, want: nil},
		{name: "int", col: column{kind: kindInt}, raw: `-42`, want: int64(-42)},
		{name: "int from string", col: column{kind: kindInt}, raw: `"9223372036854775807"`, want: int64(9223372036854775807)},
		{name: "int overflow", col: column{kind: kindInt}, raw: `"9223372036854775808"`, wantErr: true},
		{name: "uint above int64", col: column{kind: kindUint}, raw: `"18446744073709551615"`, want: "18446744073709551615"},
		{name: "uint as text always", col: column{kind: kindUint}, raw: `7`, want: "7"},
		{name: "uint negative", col: column{kind: kindUint}, raw: `-1`, wantErr: true},
		{name: "null bytes typed", col: column{kind: kindBytes}, raw: `null`, want: []byte(nil)},
		{name: "bool", col: column{kind: kindBool}, raw: `true`, want: true},
		{name: "bool text f", col: column{kind: kindBool}, raw: `"f"`, want: false},
		{name: "bool into int", col: column{kind: kindInt}, raw: `true`, want: int64(1)},
		{name: "float", col: column{kind: kindFloat}, raw: `1.5e300`, want: 1.5e300},
		{name: "float32 max", col: column{kind: kindFloat32}, raw: `3.4028235e+38`, want: float64(float32(3.4028235e+38))},
		{name: "NaN", col: column{kind: kindFloat}, raw: `"NaN"`, wantErr: true},
		{name: "Infinity", col: column{kind: kindFloat}, raw: `"Infinity"`, wantErr: true},
		{name: "decimal", col: column{kind: kindDecimal, scale: 2}, raw: `"-12.50"`, want: "-12.50"},
		{name: "decimal too many digits", col: column{kind: kindDecimal, scale: 2}, raw: `"1.234"`, wantErr: true},
		{name: "decimal NaN", col: column{kind: kindDecimal, scale: 2}, raw: `"NaN"`, wantErr: true},
		{name: "bytes", col: column{kind: kindBytes}, raw: `"AAEC"`, want: []byte{0, 1, 2}},
		{name: "json", col: column{kind: kindJSON}, raw: `{"a": [1]}`, want: `{"a": [1]}`},
		{name: "text with ]", col: column{kind: kindText}, raw: `"a]b'c"`, want: "a]b'c"},
		{name: "array as text", col: column{kind: kindText}, raw: `[1,2]`, want: "[1,2]"},
		{name: "timestamptz", col: column{kind: kindTimestampTZ}, raw: `"2024-02-29T23:30:00.123456+02:00"`, want: "2024-02-29T21:30:00.123456+00:00"},
		{name: "timestamptz infinity", col: column{kind: kindTimestampTZ}, raw: `"infinity"`, wantErr: true},
		{name: "zero timestamp", col: column{kind: kindTimestampTZ}, raw: `"0000-00-00T00:00:00Z"`, wantErr: true},
		{name: "datetime", col: column{kind: kindDateTime}, raw: `"2024-01-02T03:04:05.5"`, want: "2024-01-02T03:04:05.5"},
		{name: "datetime zero", col: column{kind: kindDateTime}, raw: `"0000-00-00T00:00:00"`, wantErr: true},
		{name: "date", col: column{kind: kindDate}, raw: `"0001-01-01"`, want: "0001-01-01"},
		{name: "date zero", col: column{kind: kindDate}, raw: `"2024-00-10"`, wantErr: true},
		{name: "date BC", col: column{kind: kindDate}, raw: `"0044-03-15 BC"`, wantErr: true},
		{name: "time", col: column{kind: kindTime}, raw: `"23:59:59.999999"`, want: "23:59:59.999999"},
		{name: "object for int", col: column{kind: kindInt}, raw: `{}`, wantErr: true},
		{name: "not JSON", col: column{kind: kindInt}, raw: `nope`, wantErr: true},
	} {
		got, err := convert(&tt.col, json.RawMessage(tt.raw))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %#v, want %#v", tt.name, got, tt.want)
		}
	}
}
