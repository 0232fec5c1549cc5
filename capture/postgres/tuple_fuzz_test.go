package postgres

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/syncd-dev/syncd/capture"
)

// Catalog types of the fuzz relation that are not built in.
const (
	fuzzPriceOID    = 100001 // DOMAIN price AS numeric
	fuzzPriceArrOID = 100002 // price[]
	fuzzMoodOID     = 100003 // an enum
	fuzzUnknownOID  = 100004 // a type the cache does not know
)

// fuzzColumns is the relation FuzzDecodeTuple decodes tuples of: a column
// of each type with its own decoder. The first two form the replica
// identity.
var fuzzColumns = []struct {
	name string
	oid  uint32
}{
	{"id", pgtype.Int8OID}, {"k", pgtype.TextOID}, {"b", pgtype.BoolOID}, {"i2", pgtype.Int2OID},
	{"i4", pgtype.Int4OID}, {"o", pgtype.OIDOID}, {"x8", pgtype.XID8OID}, {"f4", pgtype.Float4OID},
	{"f8", pgtype.Float8OID}, {"n", pgtype.NumericOID}, {"by", pgtype.ByteaOID}, {"j", pgtype.JSONBOID},
	{"tz", pgtype.TimestamptzOID}, {"ts", pgtype.TimestampOID}, {"u", pgtype.UUIDOID},
	{"ia", pgtype.Int4ArrayOID}, {"ta", pgtype.TextArrayOID}, {"tza", pgtype.TimestamptzArrayOID},
	{"bya", pgtype.ByteaArrayOID}, {"bx", pgtype.BoxArrayOID}, {"p", fuzzPriceOID}, {"pa", fuzzPriceArrOID},
	{"m", fuzzMoodOID}, {"x", fuzzUnknownOID},
}

func fuzzRelation() *relation {
	types := newTypeCache()
	types.loaded[fuzzPriceOID] = typeInfo{OID: fuzzPriceOID, Name: "price", Type: 'd', Category: 'N', Base: pgtype.NumericOID, Delim: ','}
	types.loaded[fuzzPriceArrOID] = typeInfo{OID: fuzzPriceArrOID, Name: "_price", Type: 'b', Category: 'A', Elem: fuzzPriceOID, Delim: ','}
	types.loaded[fuzzMoodOID] = typeInfo{OID: fuzzMoodOID, Name: "mood", Type: 'e', Category: 'E', Delim: ','}
	n := len(fuzzColumns)
	r := &relation{
		table:    &capture.Table{Schema: "public", Name: "every", Columns: make([]capture.Column, n), Key: []int{0, 1}},
		decoders: make([]decoder, n),
		identity: make([]bool, n),
		before:   make(capture.Row, n),
		after:    make(capture.Row, n),
	}
	for i, c := range fuzzColumns {
		r.table.Columns[i] = capture.Column{Name: c.name, Type: strconv.Itoa(int(c.oid))}
		r.decoders[i] = types.decoder(c.oid)
		r.identity[i] = i < 2
	}
	return r
}

// FuzzDecodeTuple decodes the pgoutput Insert, Update and Delete messages
// of a relation with a column of every kind of type: the fuzz input is the
// message after its type byte and relation id. Parsing and decoding never
// panic; what decodes gives each column a value of the type the capture
// value contract names for it, or NULL, or Absent where the tuple says the
// value was not sent. Seeds are in testdata/fuzz/FuzzDecodeTuple.
func FuzzDecodeTuple(f *testing.F) {
	vals := fuzzSeedValues()
	f.Add(byte('I'), append([]byte{'N'}, fuzzTuple(vals)...))
	f.Add(byte('U'), append(append([]byte{'K'}, fuzzKeyTuple()...), append([]byte{'N'}, fuzzTuple(vals)...)...))
	f.Add(byte('U'), append(append([]byte{'O'}, fuzzTuple(vals)...), append([]byte{'N'}, fuzzTuple(vals)...)...))
	f.Add(byte('D'), append([]byte{'K'}, fuzzKeyTuple()...))
	f.Add(byte('I'), []byte("N\x00\x02t\x00\x00\x00\x011b\x00\x00\x00\x01\x00"))
	r := fuzzRelation()
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		data := append([]byte{kind, 0, 0, 0, 7}, body...)
		m, err := parseMessage(data)
		if err != nil {
			return
		}
		// Row messages are parsed by syncd: as pglogrepl parses them.
		if want, ok := pglogreplParse(data); ok && !reflect.DeepEqual(m, want) {
			t.Fatalf("parseMessage(%q) = %#v, pglogrepl.Parse gives %#v", data, m, want)
		}
		type tuple struct {
			t       *pglogrepl.TupleData
			keyOnly bool
		}
		var tuples []tuple
		switch m := m.(type) {
		case *pglogrepl.InsertMessage:
			tuples = append(tuples, tuple{m.Tuple, false})
		case *pglogrepl.UpdateMessage:
			if m.OldTuple != nil {
				tuples = append(tuples, tuple{m.OldTuple, m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey})
			}
			tuples = append(tuples, tuple{m.NewTuple, false})
		case *pglogrepl.DeleteMessage:
			tuples = append(tuples, tuple{m.OldTuple, m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey})
		}
		for _, tp := range tuples {
			if tp.t == nil {
				t.Fatalf("parseMessage(%q) = %#v without a tuple", data, m)
			}
			if err := r.decode(tp.t, r.after, tp.keyOnly); err != nil {
				continue
			}
			for i, c := range tp.t.Columns {
				v := r.after[i]
				switch {
				case c.DataType == pglogrepl.TupleDataTypeToast || c.DataType == pglogrepl.TupleDataTypeNull && tp.keyOnly && !r.identity[i]:
					if v != capture.Absent {
						t.Fatalf("column %s sent as %q decodes to %#v, want Absent", fuzzColumns[i].name, c.DataType, v)
					}
				case c.DataType == pglogrepl.TupleDataTypeNull:
					if v != nil {
						t.Fatalf("column %s sent as NULL decodes to %#v", fuzzColumns[i].name, v)
					}
				default:
					if err := checkContract(fuzzColumns[i].oid, v); err != nil {
						t.Fatalf("column %s %q decodes to %T %#v: %v", fuzzColumns[i].name, c.Data, v, v, err)
					}
				}
			}
		}
	})
}

// pglogreplParse returns what pglogrepl.Parse returns for data, and
// false if it fails or panics.
func pglogreplParse(data []byte) (m pglogrepl.Message, ok bool) {
	defer func() {
		if recover() != nil {
			m, ok = nil, false
		}
	}()
	m, err := pglogrepl.Parse(data)
	return m, err == nil
}

// checkContract reports whether v is a value of the Go type the capture
// value contract has for a non-NULL value of type oid.
func checkContract(oid uint32, v any) error {
	is := func(ok bool) error {
		if !ok {
			return fmt.Errorf("not the contract's type")
		}
		return nil
	}
	array := func(elem uint32) error {
		a, ok := v.([]any)
		if !ok || a == nil {
			return fmt.Errorf("not a non-nil []any")
		}
		for _, e := range a {
			if sub, ok := e.([]any); ok {
				if err := checkContract(oidOfArray(elem), sub); err != nil {
					return err
				}
			} else if e != nil {
				if err := checkContract(elem, e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	switch oid {
	case pgtype.BoolOID:
		_, ok := v.(bool)
		return is(ok)
	case pgtype.Int2OID, pgtype.Int4OID:
		_, ok := v.(int32)
		return is(ok)
	case pgtype.Int8OID:
		_, ok := v.(int64)
		return is(ok)
	case pgtype.OIDOID:
		n, ok := v.(int64)
		return is(ok && n >= 0 && n <= 1<<32-1)
	case pgtype.XID8OID:
		_, ok := v.(uint64)
		return is(ok)
	case pgtype.Float4OID:
		_, ok := v.(float32)
		return is(ok)
	case pgtype.Float8OID:
		_, ok := v.(float64)
		return is(ok)
	case pgtype.NumericOID, fuzzPriceOID:
		_, ok := v.(capture.Decimal)
		return is(ok)
	case pgtype.ByteaOID:
		b, ok := v.([]byte)
		return is(ok && b != nil)
	case pgtype.JSONBOID:
		_, ok := v.(capture.JSON)
		return is(ok)
	case pgtype.TimestamptzOID:
		switch v := v.(type) {
		case time.Time:
			return is(v.Location() == time.UTC)
		case string:
			return is(v == "infinity" || v == "-infinity")
		}
		return is(false)
	case pgtype.Int4ArrayOID:
		return array(pgtype.Int4OID)
	case pgtype.TextArrayOID, pgtype.BoxArrayOID:
		return array(pgtype.TextOID)
	case pgtype.TimestamptzArrayOID:
		return array(pgtype.TimestamptzOID)
	case pgtype.ByteaArrayOID:
		return array(pgtype.ByteaOID)
	case fuzzPriceArrOID:
		return array(fuzzPriceOID)
	}
	_, ok := v.(string) // text, timestamp, uuid, enums, unknown types
	return is(ok)
}

// oidOfArray maps an element type to its array type, for nested levels.
func oidOfArray(elem uint32) uint32 {
	switch elem {
	case pgtype.Int4OID:
		return pgtype.Int4ArrayOID
	case pgtype.TextOID:
		return pgtype.TextArrayOID
	case pgtype.TimestamptzOID:
		return pgtype.TimestamptzArrayOID
	case pgtype.ByteaOID:
		return pgtype.ByteaArrayOID
	}
	return fuzzPriceArrOID
}

// fuzzSeedValues are text forms PostgreSQL sends for the fuzz columns,
// nil for NULL.
func fuzzSeedValues() []*string {
	s := func(v string) *string { return &v }
	return []*string{
		s("9223372036854775807"), s("k1"), s("t"), s("-32768"), s("2147483647"), s("4294967295"),
		s("18446744073709551615"), s("NaN"), s("-1.7976931348623157e+308"), s("-12.50"), s(`\x00ff`),
		s(`{"a": [1, 2.5]}`), s("2024-01-02 03:04:05.123456+00"), s("2024-01-02 03:04:05.5"),
		s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), s("[0:1]={1,NULL}"), s(`{"a\"b",NULL,"c\\d"}`),
		s(`{"2024-01-02 03:04:05+00",infinity}`), s(`{"\\x00ff"}`), s("{(1,1),(0,0);(2,2),(1,1)}"),
		s("199.90"), s("{1.50,NULL}"), s("happy"), nil,
	}
}

// fuzzTuple encodes a TupleData of text values (nil: NULL).
func fuzzTuple(vals []*string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
	for _, v := range vals {
		if v == nil {
			b = append(b, 'n')
			continue
		}
		b = append(b, 't')
		b = binary.BigEndian.AppendUint32(b, uint32(len(*v)))
		b = append(b, *v...)
	}
	return b
}

// fuzzKeyTuple is a key tuple: the identity columns, nulls elsewhere, and
// one unchanged TOAST value.
func fuzzKeyTuple() []byte {
	vals := make([]*string, len(fuzzColumns))
	id, k := "42", "k"
	vals[0], vals[1] = &id, &k
	b := fuzzTuple(vals)
	// Mark the last column an unchanged TOAST value.
	b[len(b)-1] = 'u'
	return b
}
