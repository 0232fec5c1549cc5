package filter

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the type of a literal Value.
type Kind uint8

// Literal kinds.
const (
	KindNull   Kind = iota // SQL NULL
	KindBool               // TRUE or FALSE
	KindInt                // an integer that fits in an int64
	KindNumber             // any other exact decimal number
	KindString             // a character string
)

var kindNames = [...]string{"null", "bool", "int", "number", "string"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a literal: the value of a :param, or a constant in a filter.
// The zero Value is NULL. Values are comparable with ==: numbers are kept
// in one canonical form, so the values of Number("1.50") and Number("1.5")
// are equal, and so are those of Number("2.0") and Int(2).
type Value struct {
	kind Kind
	i    int64  // KindInt; KindBool: 1 for TRUE
	s    string // KindString; KindNumber: canonical decimal text
}

// Null returns the NULL value.
func Null() Value { return Value{} }

// Bool returns TRUE or FALSE.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.i = 1
	}
	return v
}

// Int returns an integer value.
func Int(i int64) Value { return Value{kind: KindInt, i: i} }

// String returns a character string value.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Number returns the exact decimal number written as text: an optional
// sign, then digits with an optional fraction ("-12.50"). Integers that fit
// in an int64 are returned as KindInt: Number("7.0") returns Int(7).
func Number(text string) (Value, error) {
	d, ok := parseDecimal(text)
	if !ok || d.class != finite {
		return Value{}, fmt.Errorf("parse number %q: not a finite decimal number", text)
	}
	return decimalValue(d), nil
}

func decimalValue(d decimal) Value {
	if i, ok := d.int64(); ok {
		return Int(i)
	}
	return Value{kind: KindNumber, s: d.text()}
}

// Kind returns v's kind.
func (v Value) Kind() Kind { return v.kind }

// String returns v as a filter literal: NULL, TRUE, -12, 0.5, or a string
// in single quotes with each single quote inside doubled.
func (v Value) String() string {
	switch v.kind {
	case KindBool:
		if v.i != 0 {
			return "TRUE"
		}
		return "FALSE"
	case KindInt:
		return strconv.FormatInt(v.i, 10)
	case KindNumber:
		return v.s
	case KindString:
		return quote(v.s, '\'')
	}
	return "NULL"
}

// arg returns v as a database/sql bind argument. Numbers that are not
// int64 go as their decimal text: PostgreSQL and SQL Server convert it
// exactly to the column's numeric type, while MySQL compares a DECIMAL
// column with a string as double precision.
func (v Value) arg() any {
	switch v.kind {
	case KindBool:
		return v.i != 0
	case KindInt:
		return v.i
	case KindNumber, KindString:
		return v.s
	}
	return nil
}

// quote encloses s in q, doubling each q inside.
func quote(s string, q byte) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		if s[i] == q {
			b.WriteByte(q)
		}
		b.WriteByte(s[i])
	}
	b.WriteByte(q)
	return b.String()
}
