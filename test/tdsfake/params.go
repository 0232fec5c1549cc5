package tdsfake

import (
	"encoding/binary"
	"fmt"
	"math"
)

// rpcParams decodes the parameters of an sp_executesql RPC ([MS-TDS]
// 2.2.6.6): the statement, the declarations, then the values, each a
// name, status flags, a TYPE_INFO and its value. It knows the types
// go-mssqldb sends for the Go values syncd passes: nil (NULLTYPE),
// int64 (INTN), bool (BITN), float64 (FLTN), string (NVARCHAR, PLP past
// 4,000 characters or when empty) and []byte (BIGVARBINARY). It returns
// the values after the declarations: int64, bool, float64, string,
// []byte, NullBinary or nil.
func rpcParams(msg []byte) (stmt string, params []any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode RPC parameters: %v", r)
		}
	}()
	b := msg[binary.LittleEndian.Uint32(msg):]
	if binary.LittleEndian.Uint16(b) != 0xFFFF || binary.LittleEndian.Uint16(b[2:]) != 10 {
		return "", nil, fmt.Errorf("an RPC other than sp_executesql")
	}
	b = b[6:] // proc id switch, id, option flags
	for i := 0; len(b) > 0; i++ {
		b = b[1+2*int(b[0]):] // name
		b = b[1:]             // status flags
		var v any
		if v, b, err = typedValue(b); err != nil {
			return "", nil, err
		}
		switch i {
		case 0:
			stmt, _ = v.(string)
		case 1: // the declarations
		default:
			params = append(params, v)
		}
	}
	return stmt, params, nil
}

// NullBinary is a typed NULL: a VARBINARY parameter holding NULL, as
// go-mssqldb sends a nil []byte; an untyped NULL (a nil argument) decodes
// as nil.
type NullBinary struct{}

func (NullBinary) String() string { return "NULL:varbinary" }

// typedValue decodes a TYPE_INFO and its value at the start of b.
func typedValue(b []byte) (any, []byte, error) {
	typ := b[0]
	b = b[1:]
	switch typ {
	case 0x1F: // NULLTYPE: no length, no value
		return nil, b, nil
	case 0x26, 0x68, 0x6D: // INTN, BITN, FLTN: max length, then length and bytes
		n := int(b[1])
		data := b[2 : 2+n]
		b = b[2+n:]
		if n == 0 {
			return nil, b, nil
		}
		switch typ {
		case 0x68:
			return data[0] != 0, b, nil
		case 0x6D:
			if n == 4 {
				return float64(math.Float32frombits(binary.LittleEndian.Uint32(data))), b, nil
			}
			return math.Float64frombits(binary.LittleEndian.Uint64(data)), b, nil
		}
		switch n {
		case 1:
			return int64(data[0]), b, nil
		case 2:
			return int64(int16(binary.LittleEndian.Uint16(data))), b, nil
		case 4:
			return int64(int32(binary.LittleEndian.Uint32(data))), b, nil
		}
		return int64(binary.LittleEndian.Uint64(data)), b, nil
	case 0xE7, 0xA5: // NVARCHAR, BIGVARBINARY
		maxLen := binary.LittleEndian.Uint16(b)
		b = b[2:]
		if typ == 0xE7 {
			b = b[5:] // collation
		}
		var data []byte
		null := false
		if maxLen == 0xFFFF { // PLP: total length, chunks, a zero terminator
			if binary.LittleEndian.Uint64(b) == math.MaxUint64 {
				null = true
				b = b[8:]
			} else {
				b = b[8:]
				for {
					n := binary.LittleEndian.Uint32(b)
					b = b[4:]
					if n == 0 {
						break
					}
					data = append(data, b[:n]...)
					b = b[n:]
				}
			}
		} else {
			n := binary.LittleEndian.Uint16(b)
			b = b[2:]
			if n == 0xFFFF {
				null = true
			} else {
				data = b[:n]
				b = b[n:]
			}
		}
		switch {
		case null && typ == 0xA5:
			return NullBinary{}, b, nil
		case null:
			return nil, b, nil
		case typ == 0xE7:
			return ucs2(data), b, nil
		}
		return append([]byte{}, data...), b, nil
	}
	return nil, nil, fmt.Errorf("parameter of TDS type %#x", typ)
}
