package filter_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// row is a test row by column name; compileRow lays it out in name order.
type row map[string]any

func compileRow(t testing.TB, src string, r row) (*filter.Program, capture.Row) {
	t.Helper()
	names := make([]string, 0, len(r))
	for name := range r {
		names = append(names, name)
	}
	slices.Sort(names)
	values := make(capture.Row, len(names))
	for i, name := range names {
		values[i] = r[name]
	}
	p, err := mustParse(t, src).Compile(func(name string) int { return slices.Index(names, name) })
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return p, values
}

var (
	tFalse   = filter.False
	tTrue    = filter.True
	tUnknown = filter.Unknown
)

func TestEval(t *testing.T) {
	ts := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	tests := []struct {
		name string
		src  string
		row  row
		want filter.Tri
	}{
		// comparisons on int64
		{"int32 eq", "a = 5", row{"a": int32(5)}, tTrue},
		{"int32 vs int64 column value", "a < 5000000000", row{"a": int32(-7)}, tTrue},
		{"int32 in list", "a IN (1, 2, 3)", row{"a": int32(2)}, tTrue},
		{"int eq", "a = 5", row{"a": int64(5)}, tTrue},
		{"int ne", "a <> 5", row{"a": int64(5)}, tFalse},
		{"int lt", "a < 5", row{"a": int64(4)}, tTrue},
		{"int le", "a <= 5", row{"a": int64(5)}, tTrue},
		{"int gt", "a > 5", row{"a": int64(5)}, tFalse},
		{"int ge", "a >= 5", row{"a": int64(5)}, tTrue},
		{"literal on left flips", "5 > a", row{"a": int64(4)}, tTrue},
		{"literal on left le", "5 <= a", row{"a": int64(4)}, tFalse},
		{"negative literal", "a > -3", row{"a": int64(-2)}, tTrue},
		{"int vs decimal literal", "a > 4.5", row{"a": int64(5)}, tTrue},
		{"int vs decimal literal equal", "a = 5.0", row{"a": int64(5)}, tTrue},
		{"int min", "a = -9223372036854775808", row{"a": int64(math.MinInt64)}, tTrue},
		{"int vs huge literal", "a < 99999999999999999999", row{"a": int64(math.MaxInt64)}, tTrue},
		{"int vs huge negative", "a > -99999999999999999999", row{"a": int64(math.MinInt64)}, tTrue},
		// uint64
		{"uint max", "a > 9223372036854775807", row{"a": uint64(math.MaxUint64)}, tTrue},
		{"uint exact", "a = 18446744073709551615", row{"a": uint64(math.MaxUint64)}, tTrue},
		{"uint vs negative", "a > -1", row{"a": uint64(0)}, tTrue},
		{"uint vs decimal", "a < 0.5", row{"a": uint64(0)}, tTrue},
		// floats
		{"float vs decimal literal", "a = 0.1", row{"a": 0.1}, tTrue},
		{"float32 widened like PostgreSQL", "a = 0.1", row{"a": float32(0.1)}, tFalse},
		{"float32 exact", "a = 0.5", row{"a": float32(0.5)}, tTrue},
		{"float vs int", "a > 2", row{"a": 2.5}, tTrue},
		{"float vs int equal", "a = 2", row{"a": 2.0}, tTrue},
		{"float just above 2^63", "a > 9223372036854775807", row{"a": 0x1p63}, tTrue},
		{"float NaN above all", "a > 99999999999999999999", row{"a": math.NaN()}, tTrue},
		{"float NaN equals NaN text", "a = 'NaN'", row{"a": math.NaN()}, tTrue},
		{"float +Inf", "a > 99999999999999999999.5", row{"a": math.Inf(1)}, tTrue},
		{"float -Inf", "a < -1", row{"a": math.Inf(-1)}, tTrue},
		// decimals
		{"decimal exact gt", "price > 199.9", row{"price": capture.Decimal("199.90")}, tFalse},
		{"decimal exact eq", "price = 199.9", row{"price": capture.Decimal("199.90")}, tTrue},
		{"decimal beyond float precision", "price > 0.10000000000000000001", row{"price": capture.Decimal("0.10000000000000000002")}, tTrue},
		{"decimal big", "price < 123456789012345678901234567891", row{"price": capture.Decimal("123456789012345678901234567890.99")}, tTrue},
		{"decimal vs int", "price > 0", row{"price": capture.Decimal("0.01")}, tTrue},
		{"decimal zero vs int", "price > 0", row{"price": capture.Decimal("-0.00")}, tFalse},
		{"decimal negative", "price < -1", row{"price": capture.Decimal("-1.5")}, tTrue},
		{"decimal negative vs negative int", "price > -2", row{"price": capture.Decimal("-1.5")}, tTrue},
		{"decimal leading zeros", "price = 10", row{"price": capture.Decimal("0010.000")}, tTrue},
		{"decimal NaN above all", "price > 1", row{"price": capture.Decimal("NaN")}, tTrue},
		{"decimal NaN equals NaN", "price = 'NaN'", row{"price": capture.Decimal("NaN")}, tTrue},
		{"decimal infinity", "price > 99999999999999999999", row{"price": capture.Decimal("Infinity")}, tTrue},
		{"decimal -infinity", "price < -99999999999999999999", row{"price": capture.Decimal("-Infinity")}, tTrue},
		{"decimal vs float", "a < b", row{"a": capture.Decimal("0.1"), "b": 0.2}, tTrue},
		{"decimal invalid", "price > 0", row{"price": capture.Decimal("1e5")}, tUnknown},
		{"string literal as number", "price > '10'", row{"price": capture.Decimal("10.5")}, tTrue},
		{"string literal not a number", "price > 'ten'", row{"price": int64(11)}, tUnknown},
		// strings
		{"string eq", "s = 'abc'", row{"s": "abc"}, tTrue},
		{"string bytewise", "s < 'a'", row{"s": "B"}, tTrue},
		{"string case matters", "s = 'ABC'", row{"s": "abc"}, tFalse},
		{"string trailing space matters", "s = 'a '", row{"s": "a"}, tFalse},
		{"string with quote", "s = 'it''s'", row{"s": "it's"}, tTrue},
		{"string vs number literal", "s = 5", row{"s": "5"}, tUnknown},
		{"json as text", `j = '{"a":1}'`, row{"j": capture.JSON(`{"a":1}`)}, tTrue},
		{"bytes incomparable", "b = 'x'", row{"b": []byte("x")}, tUnknown},
		{"array incomparable", "b = 1", row{"b": []any{int64(1)}}, tUnknown},
		{"foreign type incomparable", "b = 1", row{"b": int16(1)}, tUnknown},
		// bools
		{"bool true", "b = TRUE", row{"b": true}, tTrue},
		{"bool false", "b = TRUE", row{"b": false}, tFalse},
		{"bool order", "b < TRUE", row{"b": false}, tTrue},
		{"bool vs int", "b = 1", row{"b": true}, tUnknown},
		{"int vs bool", "b = TRUE", row{"b": int64(1)}, tUnknown},
		// times
		{"time vs rfc3339", "t = '2026-03-01T10:00:00.123456Z'", row{"t": ts}, tTrue},
		{"time vs rfc3339 offset", "t = '2026-03-01T12:00:00.123456+02:00'", row{"t": ts}, tTrue},
		{"time vs space form", "t > '2026-03-01 10:00:00'", row{"t": ts}, tTrue},
		{"time vs space form frac", "t = '2026-03-01 10:00:00.123456'", row{"t": ts}, tTrue},
		{"time vs space form zone", "t = '2026-03-01 11:00:00.123456+01'", row{"t": ts}, tTrue},
		{"time vs date", "t >= '2026-03-01' AND t < '2026-03-02'", row{"t": ts}, tTrue},
		{"time vs bad text", "t > 'yesterday'", row{"t": ts}, tUnknown},
		{"time vs time", "t = u", row{"t": ts, "u": ts.In(time.FixedZone("x", 3600))}, tTrue},
		// NULL and Absent
		{"null compare", "a = 1", row{"a": nil}, tUnknown},
		{"null ne", "a <> 1", row{"a": nil}, tUnknown},
		{"null literal", "a = NULL", row{"a": int64(1)}, tUnknown},
		{"is null", "a IS NULL", row{"a": nil}, tTrue},
		{"is null on value", "a IS NULL", row{"a": int64(0)}, tFalse},
		{"is not null", "a IS NOT NULL", row{"a": ""}, tTrue},
		{"is not null on null", "a IS NOT NULL", row{"a": nil}, tFalse},
		{"absent compare", "a = 1", row{"a": capture.Absent}, tUnknown},
		{"absent is null", "a IS NULL", row{"a": capture.Absent}, tUnknown},
		{"absent is not null", "a IS NOT NULL", row{"a": capture.Absent}, tUnknown},
		{"null literal is null", "NULL IS NULL", row{}, tTrue},
		{"literal is not null", "1 IS NOT NULL", row{}, tTrue},
		// three-valued logic
		{"and F U", "a = 1 AND b = 1", row{"a": int64(2), "b": nil}, tFalse},
		{"and U F", "b = 1 AND a = 1", row{"a": int64(2), "b": nil}, tFalse},
		{"and T U", "a = 2 AND b = 1", row{"a": int64(2), "b": nil}, tUnknown},
		{"and T T", "a = 2 AND b = 1", row{"a": int64(2), "b": int64(1)}, tTrue},
		{"or T U", "b = 1 OR a = 2", row{"a": int64(2), "b": nil}, tTrue},
		{"or F U", "a = 1 OR b = 1", row{"a": int64(2), "b": nil}, tUnknown},
		{"or F F", "a = 1 OR a = 3", row{"a": int64(2)}, tFalse},
		{"not T", "NOT a = 2", row{"a": int64(2)}, tFalse},
		{"not F", "NOT a = 1", row{"a": int64(2)}, tTrue},
		{"not U", "NOT a = 1", row{"a": nil}, tUnknown},
		{"precedence", "a = 1 OR a = 2 AND b = 0", row{"a": int64(1), "b": int64(1)}, tTrue},
		{"parens", "(a = 1 OR a = 2) AND b = 0", row{"a": int64(1), "b": int64(1)}, tFalse},
		// IN
		{"in hit", "a IN (1, 2, 3)", row{"a": int64(2)}, tTrue},
		{"in miss", "a IN (1, 3)", row{"a": int64(2)}, tFalse},
		{"in hit with null", "a IN (NULL, 2)", row{"a": int64(2)}, tTrue},
		{"in miss with null", "a IN (1, NULL)", row{"a": int64(2)}, tUnknown},
		{"in null value", "a IN (1)", row{"a": nil}, tUnknown},
		{"not in miss", "a NOT IN (1, 3)", row{"a": int64(2)}, tTrue},
		{"not in hit", "a NOT IN (1, 2)", row{"a": int64(2)}, tFalse},
		{"not in with null", "a NOT IN (1, NULL)", row{"a": int64(2)}, tUnknown},
		{"in strings", "s IN ('x', 'y')", row{"s": "y"}, tTrue},
		{"in mixed numbers", "a IN (1.5, 2)", row{"a": capture.Decimal("1.50")}, tTrue},
		{"in columns", "a IN (b, c)", row{"a": int64(1), "b": int64(2), "c": int64(1)}, tTrue},
		// LIKE
		{"like prefix", "s LIKE 'ab%'", row{"s": "abc"}, tTrue},
		{"like exact", "s LIKE 'abc'", row{"s": "abc"}, tTrue},
		{"like no match", "s LIKE 'b%'", row{"s": "abc"}, tFalse},
		{"like underscore", "s LIKE 'a_c'", row{"s": "abc"}, tTrue},
		{"like underscore one rune", "s LIKE 'caf_'", row{"s": "café"}, tTrue},
		{"like underscore needs one", "s LIKE 'abc_'", row{"s": "abc"}, tFalse},
		{"like percent empty", "s LIKE '%'", row{"s": ""}, tTrue},
		{"like backtrack", "s LIKE '%a%b%c'", row{"s": "xaxbxbxc"}, tTrue},
		{"like backtrack miss", "s LIKE '%a%b%c'", row{"s": "xaxcxb"}, tFalse},
		{"like escaped percent", `s LIKE '50\%'`, row{"s": "50%"}, tTrue},
		{"like escaped percent literal", `s LIKE '50\%'`, row{"s": "500"}, tFalse},
		{"like escaped underscore", `s LIKE 'a\_c'`, row{"s": "abc"}, tFalse},
		{"like escaped backslash", `s LIKE 'a\\c'`, row{"s": `a\c`}, tTrue},
		{"like escaped ordinary", `s LIKE '\a'`, row{"s": "a"}, tTrue},
		{"like case sensitive", "s LIKE 'A%'", row{"s": "abc"}, tFalse},
		{"like bracket literal", "s LIKE '[a]%'", row{"s": "[a]x"}, tTrue},
		{"not like", "s NOT LIKE 'a%'", row{"s": "abc"}, tFalse},
		{"like null value", "s LIKE 'a%'", row{"s": nil}, tUnknown},
		{"like null pattern", "s LIKE NULL", row{"s": "a"}, tUnknown},
		{"not like null value", "s NOT LIKE 'a%'", row{"s": nil}, tUnknown},
		{"like json", `s LIKE '{%'`, row{"s": capture.JSON(`{}`)}, tTrue},
		{"like on int", "s LIKE '1%'", row{"s": int64(1)}, tUnknown},
		// BETWEEN
		{"between inside", "a BETWEEN 1 AND 3", row{"a": int64(2)}, tTrue},
		{"between low edge", "a BETWEEN 1 AND 3", row{"a": int64(1)}, tTrue},
		{"between high edge", "a BETWEEN 1 AND 3", row{"a": int64(3)}, tTrue},
		{"between below", "a BETWEEN 1 AND 3", row{"a": int64(0)}, tFalse},
		{"between above", "a BETWEEN 1 AND 3", row{"a": int64(4)}, tFalse},
		{"between null bound false", "a BETWEEN 1 AND NULL", row{"a": int64(0)}, tFalse},
		{"between null bound unknown", "a BETWEEN 1 AND NULL", row{"a": int64(2)}, tUnknown},
		{"between null value", "a BETWEEN 1 AND 3", row{"a": nil}, tUnknown},
		{"not between", "a NOT BETWEEN 1 AND 3", row{"a": int64(4)}, tTrue},
		{"not between inside", "a NOT BETWEEN 1 AND 3", row{"a": int64(2)}, tFalse},
		{"between decimals", "price BETWEEN 0.5 AND 199.9", row{"price": capture.Decimal("199.90")}, tTrue},
		{"between strings", "s BETWEEN 'a' AND 'c'", row{"s": "b"}, tTrue},
		// columns and literals
		{"column vs column", "a < b", row{"a": int64(1), "b": capture.Decimal("1.5")}, tTrue},
		{"column types differ", "a = b", row{"a": "1", "b": int64(1)}, tUnknown},
		{"literal vs literal", "1 < 2", row{}, tTrue},
		{"quoted column", `"Mixed Case" = 1`, row{"Mixed Case": int64(1)}, tTrue},
		{"bare column lowercased", `MiXeD = 1`, row{"mixed": int64(1)}, tTrue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r := compileRow(t, tt.src, tt.row)
			if got := p.Eval(r); got != tt.want {
				t.Fatalf("Eval(%q) on %v = %v, want %v", tt.src, tt.row, got, tt.want)
			}
		})
	}
}

func TestEvalShortRow(t *testing.T) {
	p, err := mustParse(t, "a IS NULL OR a = 1").Compile(func(string) int { return 3 })
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Eval(capture.Row{nil}); got != filter.Unknown {
		t.Fatalf("Eval on a short row = %v, want UNKNOWN (column Absent)", got)
	}
}

func TestEvalDoesNotAllocate(t *testing.T) {
	tests := []struct {
		name string
		src  string
		row  row
	}{
		{"int64", "price > 0 AND discontinued_at IS NULL", row{"price": int64(5), "discontinued_at": nil}},
		{"decimal", "price > 0 AND discontinued_at IS NULL", row{"price": capture.Decimal("5.10"), "discontinued_at": nil}},
		{"string", "state = 'WA' OR state IN ('OR', 'CA')", row{"state": "CA"}},
		{"bool", "active = TRUE", row{"active": true}},
		{"like", "name LIKE '%x%'", row{"name": "abxcd"}},
		{"between", "a BETWEEN 1 AND 10", row{"a": 5.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r := compileRow(t, tt.src, tt.row)
			if n := testing.AllocsPerRun(100, func() { p.Eval(r) }); n != 0 {
				t.Fatalf("Eval allocates %v times per run", n)
			}
		})
	}
}

func TestTriString(t *testing.T) {
	for tri, want := range map[filter.Tri]string{filter.True: "TRUE", filter.False: "FALSE", filter.Unknown: "UNKNOWN"} {
		if got := tri.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
