package sqlserver

import (
	"reflect"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

func TestConvert(t *testing.T) {
	ts := time.Date(2026, 12, 7, 10, 11, 12, 123456700, time.FixedZone("x", 3600))
	// go-mssqldb sends uniqueidentifier in SQL Server's mixed-endian order.
	guid := []byte{0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	tests := []struct {
		typ  string
		in   any
		want any
	}{
		{"int", int64(-5), int32(-5)},
		{"tinyint", int64(5), int32(5)},
		{"bigint", int64(1 << 40), int64(1 << 40)},
		{"bit", true, true},
		{"real", float64(1.5), float32(1.5)},
		{"float", 2.25, 2.25},
		{"decimal(10,2)", []byte("199.90"), capture.Decimal("199.90")},
		{"money", []byte("1.2500"), capture.Decimal("1.2500")},
		{"uniqueidentifier", guid, "01234567-89AB-CDEF-0123-456789ABCDEF"},
		{"date", ts, "2026-12-07"},
		{"time(7)", ts, "10:11:12.1234567"},
		{"datetime2(7)", ts, "2026-12-07T10:11:12.1234567"},
		{"datetimeoffset(7)", ts, ts.UTC()},
		{"nvarchar(50)", "héllo", "héllo"},
		{"varbinary(max)", []byte{0, 1}, []byte{0, 1}},
		{"int", nil, nil},
	}
	for _, tt := range tests {
		got, err := convert(tt.typ, tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("convert(%s, %v) = %#v, %v; want %#v", tt.typ, tt.in, got, err, tt.want)
		}
	}
	if _, err := convert("int", "x"); err == nil {
		t.Error("convert(int, string): no error")
	}
}
