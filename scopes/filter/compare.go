package filter

import (
	"cmp"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

// scalarKind classifies a value for comparison.
type scalarKind uint8

const (
	sInvalid scalarKind = iota // no comparison applies: []byte, arrays, unknown types
	sNull                      // SQL NULL
	sAbsent                    // not sent by the source
	sBool
	sInt
	sUint
	sFloat
	sDecimal
	sString // strings and JSON text
	sTime
)

func (k scalarKind) numeric() bool { return k >= sInt && k <= sDecimal }

// scalar is a row value or literal unpacked for comparison. Building one
// does not allocate: strings share memory with the value.
type scalar struct {
	kind scalarKind
	i    int64   // sInt; sBool: 1 for true
	u    uint64  // sUint
	f    float64 // sFloat
	s    string  // sString; sDecimal: its text
	d    decimal // sDecimal
	t    time.Time
}

// scalarOf unpacks a value of the types capture.Event documents.
func scalarOf(v any) scalar {
	switch x := v.(type) {
	case nil:
		return scalar{kind: sNull}
	case bool:
		s := scalar{kind: sBool}
		if x {
			s.i = 1
		}
		return s
	case int32:
		return scalar{kind: sInt, i: int64(x)}
	case int64:
		return scalar{kind: sInt, i: x}
	case uint64:
		return scalar{kind: sUint, u: x}
	case float64:
		return scalar{kind: sFloat, f: x}
	case float32:
		return scalar{kind: sFloat, f: float64(x)}
	case capture.Decimal:
		d, ok := parseDecimal(string(x))
		if !ok {
			return scalar{kind: sInvalid}
		}
		return scalar{kind: sDecimal, s: string(x), d: d}
	case string:
		return scalar{kind: sString, s: x}
	case capture.JSON:
		return scalar{kind: sString, s: string(x)}
	case time.Time:
		return scalar{kind: sTime, t: x}
	}
	if v == capture.Absent {
		return scalar{kind: sAbsent}
	}
	return scalar{kind: sInvalid}
}

// compareScalars orders a and b. ok is false when either is NULL, Absent
// or invalid, or when their kinds do not compare: numbers compare with
// numbers, strings with strings, bools with bools, times with times.
func compareScalars(a, b *scalar) (c int, ok bool) {
	switch {
	case a.kind.numeric() && b.kind.numeric():
		return compareNumbers(a, b), true
	case a.kind != b.kind:
		return 0, false
	case a.kind == sString:
		return strings.Compare(a.s, b.s), true
	case a.kind == sBool:
		return cmp.Compare(a.i, b.i), true
	case a.kind == sTime:
		return a.t.Compare(b.t), true
	}
	return 0, false
}

// compareNumbers orders two numeric scalars exactly, except that a float
// compared with a decimal is compared with the decimal rounded to the
// nearest float, as PostgreSQL does. NaN equals NaN and is greater than
// every other number, also as PostgreSQL does.
func compareNumbers(a, b *scalar) int {
	if a.kind > b.kind {
		return -compareNumbers(b, a)
	}
	switch a.kind<<4 | b.kind {
	case sInt<<4 | sInt:
		return cmp.Compare(a.i, b.i)
	case sInt<<4 | sUint:
		return cmpIntUint(a.i, b.u)
	case sInt<<4 | sFloat:
		return cmpIntFloat(a.i, b.f)
	case sInt<<4 | sDecimal:
		return cmpIntDecimal(a.i, b.d)
	case sUint<<4 | sUint:
		return cmp.Compare(a.u, b.u)
	case sUint<<4 | sFloat:
		return cmpUintFloat(a.u, b.f)
	case sUint<<4 | sDecimal:
		return cmpMagDecimal(false, a.u, b.d)
	case sFloat<<4 | sFloat:
		return cmpFloat(a.f, b.f)
	case sFloat<<4 | sDecimal:
		return cmpFloatDecimal(a.f, b.s, b.d)
	}
	return cmpDecimal(a.d, b.d)
}

// constant is a literal prepared for comparisons. A string literal compared
// with a number or a time is read as one, as SQL reads an untyped literal
// as the type of the other operand; if it does not parse as one the
// comparison is Unknown.
type constant struct {
	val    scalar
	asNum  scalar // sInvalid unless val is a string that reads as a number
	asTime scalar // sInvalid unless val is a string that reads as a time
}

func newConstant(v Value) *constant {
	c := &constant{}
	switch v.kind {
	case KindNull:
		c.val.kind = sNull
	case KindBool:
		c.val = scalar{kind: sBool, i: v.i}
	case KindInt:
		c.val = scalar{kind: sInt, i: v.i}
	case KindNumber:
		d, _ := parseDecimal(v.s) // canonical text of a parsed number
		c.val = scalar{kind: sDecimal, s: v.s, d: d}
	case KindString:
		c.val = scalar{kind: sString, s: v.s}
		if d, ok := parseDecimal(strings.TrimSpace(v.s)); ok {
			c.asNum = scalar{kind: sDecimal, s: strings.TrimSpace(v.s), d: d}
		}
		if t, ok := parseTime(v.s); ok {
			c.asTime = scalar{kind: sTime, t: t}
		}
	}
	return c
}

// as returns the constant as compared with a value of kind other.
func (c *constant) as(other scalarKind) scalar {
	switch {
	case c.val.kind != sString:
	case other.numeric():
		return c.asNum
	case other == sTime:
		return c.asTime
	}
	return c.val
}

// timeLayouts are the forms a string literal compared with a time may
// take. Layouts without a zone are read as UTC. Fractional seconds are
// accepted after the seconds in every layout with seconds.
var timeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z07",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02",
}

func parseTime(s string) (time.Time, bool) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
