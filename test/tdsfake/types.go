package tdsfake

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// The column types of the SQL Server type matrix (test/e2e
// mssqlmatrix_test.go), each encoded as [MS-TDS] 2.2.5.4 (TYPE_INFO) and
// 2.2.5.5 (data) describe them. A fake answers with these so that
// go-mssqldb decodes them as it decodes a server's; which TDS type SQL
// Server sends for which column type is [MS-TDS]'s word, not checked
// against a server here.
const (
	Int1          Type = iota + DateTime2 + 1 // INTN(1): tinyint
	Int2                                      // INTN(2): smallint
	Real                                      // FLTN(4): real
	Money                                     // MONEYN(8): money; a decimal string value
	SmallMoney                                // MONEYN(4): smallmoney; a decimal string value
	GUID                                      // GUIDTYPE: uniqueidentifier; its canonical string as value
	Date                                      // DATENTYPE; a time.Time value
	DateTime                                  // DATETIMN(8): datetime; a time.Time value
	SmallDateTime                             // DATETIMN(4): smalldatetime; a time.Time value
	Varchar                                   // BIGVARCHARTYPE(8000), Latin1_General_CI_AS: char, varchar; a string of Windows-1252 characters
	Binary                                    // BIGBINARYTYPE(8000): binary; a []byte value

	kindDecimal        // DECIMALNTYPE(p, s): Decimal
	kindTime           // TIMENTYPE(s): Time
	kindDateTime2      // DATETIME2NTYPE(s): DateTime2Scale
	kindDateTimeOffset // DATETIMEOFFSETNTYPE(s): DateTimeOffset
)

// Decimal is DECIMALN(p, s); its values are decimal strings ("-1.50").
func Decimal(p, s int) Type { return kindDecimal | Type(p)<<8 | Type(s)<<16 }

// Time is TIMEN(s); its values are time.Time, of which the time of day counts.
func Time(s int) Type { return kindTime | Type(s)<<16 }

// DateTime2Scale is DATETIME2N(s); its values are time.Time.
func DateTime2Scale(s int) Type { return kindDateTime2 | Type(s)<<16 }

// DateTimeOffset is DATETIMEOFFSETN(s); its values are time.Time, whose
// zone's offset is sent.
func DateTimeOffset(s int) Type { return kindDateTimeOffset | Type(s)<<16 }

func (t Type) kind() Type  { return t & 0xFF }
func (t Type) prec() byte  { return byte(t >> 8) }
func (t Type) scale() byte { return byte(t >> 16) }

// appendTypeInfo appends the TYPE_INFO of a type of this file.
func appendTypeInfo(b []byte, t Type) []byte {
	collation := []byte{0x09, 0x04, 0xD0, 0x00, 0x34} // Latin1_General_CI_AS: code page 1252
	switch t.kind() {
	case Int1:
		return append(b, 0x26, 1)
	case Int2:
		return append(b, 0x26, 2)
	case Real:
		return append(b, 0x6D, 4)
	case Money:
		return append(b, 0x6E, 8)
	case SmallMoney:
		return append(b, 0x6E, 4)
	case GUID:
		return append(b, 0x24, 16)
	case Date:
		return append(b, 0x28)
	case DateTime:
		return append(b, 0x6F, 8)
	case SmallDateTime:
		return append(b, 0x6F, 4)
	case Varchar:
		return append(append(b, 0xA7, 0x40, 0x1F), collation...)
	case Binary:
		return append(b, 0xAD, 0x40, 0x1F)
	case kindDecimal:
		return append(b, 0x6A, 17, t.prec(), t.scale())
	case kindTime:
		return append(b, 0x29, t.scale())
	case kindDateTime2:
		return append(b, 0x2A, t.scale())
	case kindDateTimeOffset:
		return append(b, 0x2B, t.scale())
	}
	panic(fmt.Sprintf("tdsfake: type %#x", uint32(t)))
}

// appendMatrixValue appends a value of a type of this file, or its NULL.
func appendMatrixValue(b []byte, t Type, v any) []byte {
	if v == nil {
		if k := t.kind(); k == Varchar || k == Binary {
			return append(b, 0xFF, 0xFF)
		}
		return append(b, 0)
	}
	var data []byte
	switch t.kind() {
	case Int1:
		data = []byte{byte(v.(int64))}
	case Int2:
		data = binary.LittleEndian.AppendUint16(nil, uint16(v.(int64)))
	case Real:
		data = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(v.(float64))))
	case Money:
		m := scaled(v.(string), 4).Int64()
		data = binary.LittleEndian.AppendUint32(nil, uint32(uint64(m)>>32))
		data = binary.LittleEndian.AppendUint32(data, uint32(m))
	case SmallMoney:
		data = binary.LittleEndian.AppendUint32(nil, uint32(int32(scaled(v.(string), 4).Int64())))
	case GUID:
		data = guidBytes(v.(string))
	case Date:
		data = appendDays(nil, v.(time.Time))
	case DateTime:
		ts := v.(time.Time)
		midnight := time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC)
		days := int32(daysSince1900(midnight))
		ticks := uint32(math.Round(float64(ts.Sub(midnight)) * 300 / float64(time.Second)))
		data = binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, uint32(days)), ticks)
	case SmallDateTime:
		ts := v.(time.Time)
		midnight := time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC)
		days := uint16(daysSince1900(midnight))
		data = binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, days), uint16(ts.Sub(midnight)/time.Minute))
	case Varchar, Binary:
		if s, ok := v.(string); ok {
			enc, err := charmap.Windows1252.NewEncoder().String(s)
			if err != nil {
				panic(fmt.Sprintf("tdsfake: %q is not Windows-1252: %v", s, err))
			}
			data = []byte(enc)
		} else {
			data = v.([]byte)
		}
		return append(binary.LittleEndian.AppendUint16(b, uint16(len(data))), data...)
	case kindDecimal:
		data = decimalBytes(v.(string), t.prec(), t.scale())
	case kindTime:
		data = appendTicks(nil, v.(time.Time), t.scale())
	case kindDateTime2:
		ts := v.(time.Time)
		data = appendDays(appendTicks(nil, ts, t.scale()), ts)
	case kindDateTimeOffset:
		ts := v.(time.Time)
		_, offset := ts.Zone()
		u := ts.UTC()
		data = appendDays(appendTicks(nil, u, t.scale()), u)
		data = binary.LittleEndian.AppendUint16(data, uint16(int16(offset/60)))
	default:
		panic(fmt.Sprintf("tdsfake: type %#x", uint32(t)))
	}
	return append(append(b, byte(len(data))), data...)
}

// daysSince1900 counts the days from 1900-01-01 to midnight, which a
// time.Duration cannot span (it ends after 292 years).
func daysSince1900(midnight time.Time) int64 {
	return (midnight.Unix() - time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) / 86400
}

// scaled is the decimal string s times 10^scale, as an integer.
func scaled(s string, scale int) *big.Int {
	whole, frac, _ := strings.Cut(s, ".")
	frac += strings.Repeat("0", scale-len(frac))
	n, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok || len(frac) != scale {
		panic(fmt.Sprintf("tdsfake: %q is not a decimal of scale %d", s, scale))
	}
	return n
}

// decimalBytes is a DECIMALN value ([MS-TDS] 2.2.5.5.1.6): a sign byte (1
// positive, 0 negative), then the magnitude little-endian in 4, 8, 12 or
// 16 bytes as the precision needs.
func decimalBytes(s string, prec, scale byte) []byte {
	n := scaled(s, int(scale))
	sign := byte(1)
	if n.Sign() < 0 {
		sign, n = 0, n.Neg(n)
	}
	size := 16
	switch {
	case prec <= 9:
		size = 4
	case prec <= 19:
		size = 8
	case prec <= 28:
		size = 12
	}
	be := n.FillBytes(make([]byte, size))
	le := make([]byte, size)
	for i := range be {
		le[i] = be[size-1-i]
	}
	return append([]byte{sign}, le...)
}

// guidBytes is a uniqueidentifier in the order SQL Server sends it: the
// first three groups little-endian, the last two as written.
func guidBytes(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic(fmt.Sprintf("tdsfake: %q is not a uniqueidentifier", s))
	}
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return b
}

// appendDays appends the days from 0001-01-01 to ts's date, in 3 bytes.
func appendDays(b []byte, ts time.Time) []byte {
	midnight := time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC)
	days := uint32(midnight.Unix()/86400 + 719162) // 719,162 days from 0001-01-01 to 1970-01-01
	return append(b, byte(days), byte(days>>8), byte(days>>16))
}

// appendTicks appends ts's time of day in units of 10^-scale seconds, in
// 3, 4 or 5 bytes as the scale needs ([MS-TDS] 2.2.5.5.1.8).
func appendTicks(b []byte, ts time.Time, scale byte) []byte {
	midnight := time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, ts.Location())
	ticks := uint64(ts.Sub(midnight)) / uint64(math.Pow10(9-int(scale)))
	size := 5
	switch {
	case scale <= 2:
		size = 3
	case scale <= 4:
		size = 4
	}
	for i := range size {
		b = append(b, byte(ticks>>(8*i)))
	}
	return b
}
