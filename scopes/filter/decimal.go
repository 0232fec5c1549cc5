package filter

import (
	"cmp"
	"math"
	"strconv"
	"strings"
)

// decimalClass orders the classes of decimal numbers the way PostgreSQL
// orders numeric values: -Infinity < finite < +Infinity < NaN.
type decimalClass int8

const (
	negInfinity decimalClass = iota
	finite
	posInfinity
	notANumber
)

// decimal is an exact decimal number split into its digits. The digit
// strings share memory with the text they were parsed from, so parsing
// does not allocate.
type decimal struct {
	class decimalClass
	neg   bool   // false for zero
	ip    string // integer digits without leading zeros; "" for 0
	fp    string // fraction digits without trailing zeros
}

// parseDecimal parses the text form of an exact number: an optional sign,
// digits with an optional fraction (at least one digit in all), or NaN,
// Infinity, Inf with an optional sign (case-insensitive). Exponents are not
// accepted: no source prints decimals with one.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		d.neg = body[0] == '-'
		body = body[1:]
	}
	if body == "" || body[0] > '9' { // digits and '.' sort below letters
		return parseSpecialDecimal(s, body, d.neg)
	}
	d.class = finite
	i := skipDigits(body, 0)
	ip, fp := body[:i], ""
	if i < len(body) && body[i] == '.' {
		j := skipDigits(body, i+1)
		fp, i = body[i+1:j], j
	}
	if i != len(body) || ip == "" && fp == "" {
		return decimal{}, false
	}
	d.ip = strings.TrimLeft(ip, "0")
	d.fp = strings.TrimRight(fp, "0")
	if d.ip == "" && d.fp == "" {
		d.neg = false
	}
	return d, true
}

// parseSpecialDecimal parses NaN and the infinities; body is s without its
// sign.
func parseSpecialDecimal(s, body string, neg bool) (decimal, bool) {
	switch {
	case strings.EqualFold(body, "nan"):
		if s != body {
			return decimal{}, false
		}
		return decimal{class: notANumber}, true
	case strings.EqualFold(body, "infinity"), strings.EqualFold(body, "inf"):
		if neg {
			return decimal{class: negInfinity}, true
		}
		return decimal{class: posInfinity}, true
	}
	return decimal{}, false
}

// text returns d's canonical text: no leading or trailing zeros, no "-0".
func (d decimal) text() string {
	switch d.class {
	case notANumber:
		return "NaN"
	case posInfinity:
		return "Infinity"
	case negInfinity:
		return "-Infinity"
	}
	var b strings.Builder
	if d.neg {
		b.WriteByte('-')
	}
	if d.ip == "" {
		b.WriteByte('0')
	}
	b.WriteString(d.ip)
	if d.fp != "" {
		b.WriteByte('.')
		b.WriteString(d.fp)
	}
	return b.String()
}

// int64 returns d as an int64 if it is an integer in range.
func (d decimal) int64() (int64, bool) {
	if d.class != finite || d.fp != "" || len(d.ip) > 19 {
		return 0, false
	}
	m, ok := d.magnitude()
	if !ok {
		return 0, false
	}
	if d.neg {
		if m > 1<<63 {
			return 0, false
		}
		return -int64(m-1) - 1, true
	}
	if m > math.MaxInt64 {
		return 0, false
	}
	return int64(m), true
}

// magnitude returns the integer part of |d| if it fits in a uint64.
func (d decimal) magnitude() (uint64, bool) {
	if len(d.ip) > 20 {
		return 0, false
	}
	var m uint64
	for i := 0; i < len(d.ip); i++ {
		c := uint64(d.ip[i] - '0')
		if m > (math.MaxUint64-c)/10 {
			return 0, false
		}
		m = m*10 + c
	}
	return m, true
}

// cmpDecimal compares two decimals exactly.
func cmpDecimal(a, b decimal) int {
	if a.class != b.class || a.class != finite {
		return cmp.Compare(a.class, b.class)
	}
	if a.neg != b.neg {
		if a.neg {
			return -1
		}
		return 1
	}
	c := cmp.Compare(len(a.ip), len(b.ip))
	if c == 0 {
		c = strings.Compare(a.ip, b.ip)
	}
	if c == 0 {
		// Without trailing zeros, fraction digits order lexicographically.
		c = strings.Compare(a.fp, b.fp)
	}
	if a.neg {
		return -c
	}
	return c
}

// cmpMagDecimal compares the number with sign neg and integer magnitude m
// against d, exactly.
func cmpMagDecimal(neg bool, m uint64, d decimal) int {
	if d.class != finite {
		return cmp.Compare(finite, d.class)
	}
	if m == 0 {
		neg = false
	}
	if neg != d.neg {
		if neg {
			return -1
		}
		return 1
	}
	c := 0
	dm, ok := d.magnitude()
	switch {
	case !ok || m < dm:
		c = -1
	case m > dm:
		c = 1
	case d.fp != "":
		c = -1
	}
	if neg {
		return -c
	}
	return c
}

// cmpIntDecimal compares an int64 with d exactly.
func cmpIntDecimal(i int64, d decimal) int {
	if i < 0 {
		return cmpMagDecimal(true, uint64(-(i+1))+1, d)
	}
	return cmpMagDecimal(false, uint64(i), d)
}

// cmpFloatDecimal compares f with d the way PostgreSQL compares float8
// with numeric: d is rounded to the nearest float64 first.
func cmpFloatDecimal(f float64, text string, d decimal) int {
	if d.class != finite {
		return cmpFloat(f, decimalClassFloat(d.class))
	}
	df, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeError(err) {
		// Unreachable for a parsed finite decimal; order it like NaN
		// rather than panicking.
		return -1
	}
	return cmpFloat(f, df)
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func decimalClassFloat(c decimalClass) float64 {
	switch c {
	case negInfinity:
		return math.Inf(-1)
	case posInfinity:
		return math.Inf(1)
	}
	return math.NaN()
}

// cmpFloat compares floats with PostgreSQL's total order: NaN equals NaN
// and is greater than every other value.
func cmpFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpIntFloat compares an int64 with a float64 exactly.
func cmpIntFloat(i int64, f float64) int {
	switch {
	case math.IsNaN(f), f >= 0x1p63:
		return -1
	case f < -0x1p63:
		return 1
	}
	t := math.Trunc(f)
	if c := cmp.Compare(i, int64(t)); c != 0 {
		return c
	}
	return cmp.Compare(0, f-t)
}

// cmpUintFloat compares a uint64 with a float64 exactly.
func cmpUintFloat(u uint64, f float64) int {
	switch {
	case math.IsNaN(f), f >= 0x1p64:
		return -1
	case f < 0:
		return 1
	}
	t := math.Trunc(f)
	if c := cmp.Compare(u, uint64(t)); c != 0 {
		return c
	}
	return cmp.Compare(0, f-t)
}

// cmpIntUint compares an int64 with a uint64.
func cmpIntUint(i int64, u uint64) int {
	if i < 0 {
		return -1
	}
	return cmp.Compare(uint64(i), u)
}
