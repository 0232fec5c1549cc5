package filter_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// FuzzParse checks that any text either fails with a *SyntaxError inside
// the text, or parses to a Filter whose canonical text parses back to an
// equal Filter; and that binding, compiling, evaluating on random rows and
// rendering SQL never panic. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add("price > 0 AND discontinued_at IS NULL", uint64(1))
	f.Fuzz(func(t *testing.T, src string, seed uint64) {
		f1, err := filter.Parse(src)
		if err != nil {
			var se *filter.SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("Parse(%q) error = %#v, want *SyntaxError within the text", src, err)
			}
			return
		}
		canonical := f1.String()
		f2, err := filter.Parse(canonical)
		if err != nil {
			t.Fatalf("Parse(String()) of %q = %q: %v", src, canonical, err)
		}
		if !reflect.DeepEqual(f1, f2) {
			t.Fatalf("Parse(String()) differs: %q -> %q", src, canonical)
		}
		if again := f2.String(); again != canonical {
			t.Fatalf("String() not stable: %q -> %q", canonical, again)
		}

		rng := rand.New(rand.NewPCG(seed, seed>>7))
		params := map[string]filter.Value{}
		for _, name := range f1.Params() {
			params[name] = randomValue(rng)
		}
		bound, err := f1.Bind(params)
		if err != nil {
			return // a LIKE param bound to something else than a pattern
		}
		if _, err := filter.Parse(bound.String()); err != nil {
			t.Fatalf("bound filter %q does not parse: %v", bound.String(), err)
		}
		columns := bound.Columns()
		p, err := bound.Compile(func(name string) int {
			for i, c := range columns {
				if c == name {
					return i
				}
			}
			return -1
		})
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		for range 8 {
			row := make(capture.Row, rng.IntN(len(columns)+1))
			for i := range row {
				row[i] = randomRowValue(rng)
			}
			if got := p.Eval(row); got > filter.Unknown {
				t.Fatalf("Eval = %d", got)
			}
		}
		for _, d := range []filter.Dialect{filter.Postgres, filter.MySQL, filter.SQLServer} {
			bound.SQL(d, nil)
		}
	})
}

func randomValue(rng *rand.Rand) filter.Value {
	switch rng.IntN(5) {
	case 0:
		return filter.Null()
	case 1:
		return filter.Bool(rng.IntN(2) == 0)
	case 2:
		return filter.Int(rng.Int64() - rng.Int64())
	case 3:
		v, _ := filter.Number("-12.50")
		return v
	}
	return filter.String([]string{"", "x%", `a\_b`, "WA", "2026-03-01", "1.5", "NaN"}[rng.IntN(7)])
}

func randomRowValue(rng *rand.Rand) any {
	values := []any{
		nil, capture.Absent, true, false,
		int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64),
		uint64(math.MaxUint64), float32(0.1), 0.5, math.NaN(), math.Inf(-1),
		capture.Decimal("199.90"), capture.Decimal("-0.001"), capture.Decimal("NaN"), capture.Decimal("junk"),
		"", "WA", "x%y", "é", capture.JSON(`{"a":1}`), []byte("x"), []any{int64(1)},
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), struct{}{},
	}
	return values[rng.IntN(len(values))]
}
