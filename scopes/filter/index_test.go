package filter_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// indexLiterals are param values that = compares with indexValues in every
// way the language has: equal across types (1, 1.0, '1', ' 1 '), read as
// another type (strings as numbers and times), UNKNOWN (strings that read
// as neither, kinds that do not compare), NULL.
var indexLiterals = []filter.Value{
	filter.Null(), filter.Bool(true), filter.Bool(false),
	filter.Int(0), filter.Int(1), filter.Int(-1), filter.Int(1 << 53), filter.Int(1<<53 + 1), filter.Int(math.MaxInt64),
	number("0.1"), number("1.5"), number("18446744073709551615"), number("-0.000"),
	number("0.1000000000000000055511151231257827"),
	filter.String("1"), filter.String(" 1 "), filter.String("1.0"), filter.String("+1"), filter.String("r1"),
	filter.String("r2"), filter.String(""), filter.String("NaN"), filter.String("-Infinity"), filter.String("1e5"),
	filter.String("2026-03-01"), filter.String("2026-03-01T00:00:00+01:00"), filter.String("TRUE"),
}

// indexValues are row values of every kind of capture's row contract, and
// some outside it, many equal to some literal.
var indexValues = []any{
	nil, capture.Absent, true, false,
	int64(0), int64(1), int64(-1), int64(1 << 53), int64(1<<53 + 1), int64(math.MaxInt64), int32(1), int32(-1),
	uint64(1), uint64(1 << 53), uint64(math.MaxUint64),
	0.0, math.Copysign(0, -1), 1.0, -1.0, 0.1, 1.5, float64(1 << 53), math.NaN(), math.Inf(1), math.Inf(-1),
	float32(1.5), float32(0.1), 0x1p63, 0x1p64,
	capture.Decimal("1"), capture.Decimal("1.0"), capture.Decimal("+01.00"), capture.Decimal("0.1"),
	capture.Decimal("0.10"), capture.Decimal("-0"), capture.Decimal("NaN"), capture.Decimal("Infinity"),
	capture.Decimal("-inf"), capture.Decimal("1e5"), capture.Decimal("x"), capture.Decimal("18446744073709551615"),
	capture.Decimal("9223372036854775807"), capture.Decimal("1" + strings.Repeat("0", 400)),
	"1", " 1 ", "r1", "r2", "", "NaN", "2026-03-01", "TRUE",
	capture.JSON(`"r1"`), capture.JSON("r1"), []byte("r1"),
	time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC),
	time.Date(2026, 3, 1, 1, 0, 0, 0, time.FixedZone("x", 3600)),
	[]any{int64(1)}, int(1),
}

// number is filter.Number of a valid number.
func number(s string) filter.Value {
	v, err := filter.Number(s)
	if err != nil {
		panic(err)
	}
	return v
}

// indexTemplates are filters of one param :v on column c, with other
// columns a and b: top-level equality conjuncts the index uses, and forms
// it must not be fooled by.
var indexTemplates = []string{
	"c = :v",
	":v = c",
	"c = :v AND a = 1",
	"a = 1 AND c = :v AND b IS NULL",
	"(c = :v AND a = 1) AND b = 'x'",
	"c = :v OR a = 1",
	"NOT c = :v",
	"c <> :v",
	"c >= :v AND c <= :v",
	"c IN (:v)",
	"c = :v AND c = 'r2'",
	"a = :v",
	"a = 1",
}

var indexTable = []string{"a", "b", "c"}

func indexColumn(name string) int { return slices.Index(indexTable, name) }

// TestIndexCandidatesSound indexes filters made from every template and
// literal, and checks for row values of every kind, alone and in pairs (an
// update's old and new values), that each filter left out is FALSE for
// each of the rows: narrowing by the index gives what evaluating every
// filter gives. It also checks that the candidates are in order and
// unique.
func TestIndexCandidatesSound(t *testing.T) {
	var filters []*filter.Filter
	for _, tmpl := range indexTemplates {
		f, err := filter.Parse(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		for _, lit := range indexLiterals {
			b, err := f.Bind(map[string]filter.Value{"v": lit})
			if err != nil {
				t.Fatal(err)
			}
			filters = append(filters, b)
		}
	}
	filters = append(filters, nil) // a table without a filter
	progs := make([]*filter.Program, len(filters))
	for i, f := range filters {
		if f == nil {
			continue
		}
		p, err := f.Compile(indexColumn)
		if err != nil {
			t.Fatal(err)
		}
		progs[i] = p
	}
	ix := filter.NewIndex(filters)
	if ix.Column() != "c" || ix.Len() != len(filters) {
		t.Fatalf("Column() = %q, Len() = %d; want c, %d", ix.Column(), ix.Len(), len(filters))
	}

	rng := rand.New(rand.NewPCG(20, 1))
	others := []any{nil, capture.Absent, int64(1), "x", int64(2)}
	check := func(values ...any) {
		t.Helper()
		cand := ix.Candidates(nil, values...)
		for i := 1; i < len(cand); i++ {
			if cand[i] <= cand[i-1] {
				t.Fatalf("Candidates(%#v) = %v: not increasing", values, cand)
			}
		}
		for i, p := range progs {
			if p == nil || slices.Contains(cand, i) {
				continue
			}
			for _, v := range values {
				for range 3 { // the other columns do not matter to what is left out
					row := capture.Row{others[rng.IntN(len(others))], others[rng.IntN(len(others))], v}
					if got := p.Eval(row); got != filter.False {
						t.Fatalf("Candidates(%#v) leaves out %q, which is %v for row %#v", values, filters[i], got, row)
					}
				}
			}
		}
	}
	for _, v := range indexValues {
		check(v)
		for _, w := range indexValues {
			check(v, w)
		}
	}
}

// TestIndexColumnChoice checks which column NewIndex picks.
func TestIndexColumnChoice(t *testing.T) {
	parse := func(srcs ...string) []*filter.Filter {
		var fs []*filter.Filter
		for _, s := range srcs {
			if s == "" {
				fs = append(fs, nil)
				continue
			}
			f, err := filter.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, f)
		}
		return fs
	}
	for _, tt := range []struct {
		filters []*filter.Filter
		want    string
	}{
		{parse(), ""},
		{parse(""), ""},
		{parse("a > 1", "a = b", "a IS NULL", "a = 1 OR b = 2"), ""},
		{parse("b = 1 AND a = 2", "a = 3"), "a"},
		{parse("b = 1 AND a = 2", "c = 3"), "a"}, // a tie: the first name
		{parse("b = 1", "b = 2", "a = 3", ""), "b"},
		{parse(`"Region" = 'x'`, `"Region" = 'y'`), "Region"},
	} {
		if got := filter.NewIndex(tt.filters).Column(); got != tt.want {
			t.Errorf("NewIndex(%v).Column() = %q, want %q", tt.filters, got, tt.want)
		}
	}
}

// TestIndexCandidatesNarrow checks what the index is for: a row value
// finds the spokes with its value and the filters it cannot rule out.
func TestIndexCandidatesNarrow(t *testing.T) {
	var fs []*filter.Filter
	for i := range 100 {
		f, err := filter.Parse(fmt.Sprintf("region = 'r%d'", i))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	other, _ := filter.Parse("amount > 10")
	fs = append(fs, other, nil)
	ix := filter.NewIndex(fs)
	for _, tt := range []struct {
		values []any
		want   []int
	}{
		{[]any{"r7"}, []int{7, 100, 101}},
		{[]any{"r7", "r3"}, []int{3, 7, 100, 101}},
		{[]any{"nowhere"}, []int{100, 101}},
	} {
		if got := ix.Candidates(nil, tt.values...); !slices.Equal(got, tt.want) {
			t.Errorf("Candidates(%#v) = %v, want %v", tt.values, got, tt.want)
		}
	}
	// 'r7' is no number, so region = 'r7' is UNKNOWN for a number; and
	// nothing compares with NULL, Absent, bytes or an exponent.
	for _, v := range []any{int64(7), nil, capture.Absent, []byte("r7"), capture.Decimal("1e5")} {
		if got := ix.Candidates(nil, v); len(got) != len(fs) {
			t.Errorf("Candidates(%#v) = %d filters, want all %d", v, len(got), len(fs))
		}
	}
	if n := testing.AllocsPerRun(100, func() { ix.Candidates(make([]int, 0, 8), "r7", "r3") }); n > 1 {
		t.Errorf("Candidates allocates %v times, want at most the dst slice", n)
	}
}
