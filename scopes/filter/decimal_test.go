package filter

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		text string
	}{
		{"0", true, "0"},
		{"-0.000", true, "0"},
		{"007.50", true, "7.5"},
		{"+1", true, "1"},
		{".5", true, "0.5"},
		{"5.", true, "5"},
		{"-12345678901234567890.123", true, "-12345678901234567890.123"},
		{"NaN", true, "NaN"},
		{"nan", true, "NaN"},
		{"Infinity", true, "Infinity"},
		{"-Infinity", true, "-Infinity"},
		{"+inf", true, "Infinity"},
		{"-NaN", false, ""},
		{"", false, ""},
		{".", false, ""},
		{"-", false, ""},
		{"1e5", false, ""},
		{"1.2.3", false, ""},
		{" 1", false, ""},
		{"0x10", false, ""},
	}
	for _, tt := range tests {
		d, ok := parseDecimal(tt.in)
		if ok != tt.ok || ok && d.text() != tt.text {
			t.Errorf("parseDecimal(%q) = %q, %v; want %q, %v", tt.in, d.text(), ok, tt.text, tt.ok)
		}
	}
}

// TestCompareNumbersExact checks every pair of numeric kinds against
// math/big on random values, many of them near each other.
func TestCompareNumbersExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := []string{"0", "1", "-1", "0.5", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
		"18446744073709551615", "18446744073709551616", "0.1", "199.9", "1e300"}
	for range 20000 {
		b := base[rng.IntN(len(base))]
		a, x := randomScalar(rng, b), randomScalar(rng, base[rng.IntN(len(base))])
		if rng.IntN(2) == 0 {
			x = randomScalar(rng, b)
		}
		want := referenceCompare(a, x)
		if got := compareNumbers(&a, &x); got != want {
			t.Fatalf("compareNumbers(%v, %v) = %d, want %d", describe(a), describe(x), got, want)
		}
	}
}

// randomScalar returns a numeric scalar near the number text base.
func randomScalar(rng *rand.Rand, base string) scalar {
	r, _ := new(big.Rat).SetString(base)
	delta := new(big.Rat).SetFrac64(int64(rng.IntN(5))-2, int64(rng.IntN(3)+1))
	if rng.IntN(3) == 0 {
		r.Add(r, delta)
	}
	if rng.IntN(4) == 0 {
		r.Neg(r)
	}
	switch rng.IntN(4) {
	case 0:
		if r.IsInt() && r.Num().IsInt64() {
			return scalar{kind: sInt, i: r.Num().Int64()}
		}
	case 1:
		if r.IsInt() && r.Num().IsUint64() {
			return scalar{kind: sUint, u: r.Num().Uint64()}
		}
	case 2:
		f, _ := r.Float64()
		return scalar{kind: sFloat, f: f}
	}
	text := r.FloatString(30)
	d, ok := parseDecimal(text)
	if !ok {
		panic(text)
	}
	return scalar{kind: sDecimal, s: text, d: d}
}

// referenceCompare compares with big.Rat; a float meets a decimal rounded
// to float64.
func referenceCompare(a, b scalar) int {
	if a.kind == sFloat && b.kind == sDecimal {
		f, _ := strconv.ParseFloat(b.s, 64)
		b = scalar{kind: sFloat, f: f}
	}
	if b.kind == sFloat && a.kind == sDecimal {
		f, _ := strconv.ParseFloat(a.s, 64)
		a = scalar{kind: sFloat, f: f}
	}
	ra, rb := rat(a), rat(b)
	if ra == nil || rb == nil { // infinities
		return cmpFloat(float(a), float(b))
	}
	return ra.Cmp(rb)
}

func rat(s scalar) *big.Rat {
	switch s.kind {
	case sInt:
		return new(big.Rat).SetInt64(s.i)
	case sUint:
		return new(big.Rat).SetUint64(s.u)
	case sFloat:
		if math.IsInf(s.f, 0) || math.IsNaN(s.f) {
			return nil
		}
		return new(big.Rat).SetFloat64(s.f)
	}
	r, _ := new(big.Rat).SetString(s.s)
	return r
}

func float(s scalar) float64 {
	r := rat(s)
	if r == nil {
		return s.f
	}
	f, _ := r.Float64()
	return f
}

func describe(s scalar) string {
	switch s.kind {
	case sInt:
		return "int " + strconv.FormatInt(s.i, 10)
	case sUint:
		return "uint " + strconv.FormatUint(s.u, 10)
	case sFloat:
		return "float " + strconv.FormatFloat(s.f, 'g', -1, 64)
	}
	return "decimal " + s.s
}

func TestDecimalInt64(t *testing.T) {
	tests := []struct {
		in string
		i  int64
		ok bool
	}{
		{"9223372036854775807", math.MaxInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775808", math.MinInt64, true},
		{"-9223372036854775809", 0, false},
		{"99999999999999999999", 0, false},
		{"1.5", 0, false},
		{"0", 0, true},
	}
	for _, tt := range tests {
		d, _ := parseDecimal(tt.in)
		if i, ok := d.int64(); i != tt.i || ok != tt.ok {
			t.Errorf("int64(%s) = %d, %v; want %d, %v", tt.in, i, ok, tt.i, tt.ok)
		}
	}
}
