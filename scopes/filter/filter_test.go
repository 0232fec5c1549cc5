package filter_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/scopes/filter"
)

func mustParse(t testing.TB, src string) *filter.Filter {
	t.Helper()
	f, err := filter.Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return f
}

func TestParseCanonical(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"design example", "price > 0 AND discontinued_at IS NULL", "price > 0 AND discontinued_at IS NULL"},
		{"keywords any case", "a is not null and b Like 'x' oR c in (1)", "a IS NOT NULL AND b LIKE 'x' OR c IN (1)"},
		{"no spaces", "(a=1)AND(b<>2)", "a = 1 AND b <> 2"},
		{"not equal bang", "a != 1", "a <> 1"},
		{"all operators", "a=1 AND a<>1 AND a<1 AND a<=1 AND a>1 AND a>=1", "a = 1 AND a <> 1 AND a < 1 AND a <= 1 AND a > 1 AND a >= 1"},
		{"bare names lowercased", "Price > 0", "price > 0"},
		{"quoted names exact", `"Price" > 0`, `"Price" > 0`},
		{"quoted lowercase unquoted", `"price" > 0`, "price > 0"},
		{"quoted keyword stays quoted", `"null" IS NULL`, `"null" IS NULL`},
		{"quoted with quote", `"a""b" = 1`, `"a""b" = 1`},
		{"quoted with space", `"a b" = 1`, `"a b" = 1`},
		{"dollar and digits", "a$1_b = 1", "a$1_b = 1"},
		{"unicode name", "größe = 1", "größe = 1"},
		{"string escape", "a = 'it''s'", "a = 'it''s'"},
		{"empty string", "a = ''", "a = ''"},
		{"backslash literal in string", `a = 'C:\x'`, `a = 'C:\x'`},
		{"negative numbers", "a > -5 AND b < - 0.5", "a > -5 AND b < -0.5"},
		{"negative zero", "a = -0", "a = 0"},
		{"redundant zeros", "a = 007.500", "a = 7.5"},
		{"decimal integer", "a = 2.0", "a = 2"},
		{"huge integer", "a = 123456789012345678901234567890", "a = 123456789012345678901234567890"},
		{"int64 min", "a = -9223372036854775808", "a = -9223372036854775808"},
		{"bools and null", "a = TRUE OR b = false OR c = null", "a = TRUE OR b = FALSE OR c = NULL"},
		{"params", "state = :state AND region IN (:r1, :R2)", "state = :state AND region IN (:r1, :R2)"},
		{"in list", "a IN ( 1 ,2,'x' )", "a IN (1, 2, 'x')"},
		{"not in", "a NOT IN (1)", "a NOT IN (1)"},
		{"not before in", "NOT a IN (1)", "NOT a IN (1)"},
		{"like escape", `a LIKE 'x\%y\_z%'`, `a LIKE 'x\%y\_z%'`},
		{"not like", "a NOT LIKE :p", "a NOT LIKE :p"},
		{"like null", "a LIKE NULL", "a LIKE NULL"},
		{"between", "a BETWEEN 1 AND 2 AND b NOT BETWEEN 'a' AND 'b'", "a BETWEEN 1 AND 2 AND b NOT BETWEEN 'a' AND 'b'"},
		{"literal on left", "0 < price", "0 < price"},
		{"column compare", "a = b", "a = b"},
		{"redundant parens", "((a = 1))", "a = 1"},
		{"and in or needs none", "(a = 1 AND b = 2) OR c = 3", "a = 1 AND b = 2 OR c = 3"},
		{"or in and kept", "(a = 1 OR b = 2) AND c = 3", "(a = 1 OR b = 2) AND c = 3"},
		{"flatten and", "a = 1 AND (b = 2 AND (c = 3))", "a = 1 AND b = 2 AND c = 3"},
		{"flatten or", "(a = 1 OR b = 2) OR c = 3", "a = 1 OR b = 2 OR c = 3"},
		{"not group", "NOT (a = 1 OR b = 2)", "NOT (a = 1 OR b = 2)"},
		{"not predicate", "NOT (a = 1)", "NOT a = 1"},
		{"double not", "NOT NOT a = 1", "NOT NOT a = 1"},
		{"not binds tighter than and", "NOT a = 1 AND b = 2", "NOT a = 1 AND b = 2"},
		{"whitespace", "\ta\n=\r\n1 ", "a = 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.src)
			got := f.String()
			if got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			again := mustParse(t, got)
			if !reflect.DeepEqual(f, again) {
				t.Fatalf("Parse(String()) differs from Parse(src)")
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantOff int
		wantMsg string
	}{
		{"empty", "", 0, "empty filter"},
		{"blank", "   ", 3, "empty filter"},
		{"operand only", "price", 5, "expected a comparison (=, <>, <, <=, >, >=, IN, IS, LIKE, BETWEEN), found end of filter"},
		{"missing right", "a = ", 4, "expected a column, :param or value, found end of filter"},
		{"bang", "a ! 1", 2, `unexpected character '!'; use NOT, or != for "not equal"`},
		{"unknown char", "a = 1 ; b", 6, `unexpected character ';'`},
		{"unterminated string", "a = 'abc", 4, "unterminated string"},
		{"unterminated quoted", `"abc = 1`, 0, "unterminated quoted column name"},
		{"empty quoted", `"" = 1`, 0, "empty quoted column name"},
		{"bad number", "a = 1.", 4, "invalid number: expected a digit after '.'"},
		{"number then letter", "a = 12abc", 4, `invalid number "12a"`},
		{"number then keyword", "a = 1AND b = 2", 4, `invalid number "1A"`},
		{"two dots", "a = 1.2.3", 4, `invalid number "1.2."`},
		{"exponent", "a = 1e5", 4, `invalid number "1e"`},
		{"cast", "a::int = 1", 1, "casts (::) are not supported"},
		{"lone colon", "a = :", 4, "expected a param name after ':'"},
		{"minus without number", "a = -b", 5, "expected a number after '-', found column b"},
		{"keyword as column", "and = 1", 0, "expected a column, :param or value, found AND"},
		{"trailing junk", "a = 1 b", 6, "expected AND, OR or end of filter, found column b"},
		{"unclosed paren", "(a = 1", 6, "expected AND, OR or ')', found end of filter"},
		{"stray close", "a = 1)", 5, `expected AND, OR or end of filter, found ")"`},
		{"empty in", "a IN ()", 6, `expected a column, :param or value, found ")"`},
		{"in without paren", "a IN 1", 5, "expected '(' after IN, found number 1"},
		{"in missing comma", "a IN (1 2)", 8, "expected ',' or ')', found number 2"},
		{"is without null", "a IS 1", 5, "expected NULL, found number 1"},
		{"is not without null", "a IS NOT TRUE", 9, "expected NULL, found TRUE"},
		{"not without op", "a NOT = 1", 6, `expected IN, LIKE or BETWEEN after NOT, found "="`},
		{"like number", "a LIKE 5", 7, "expected a string, NULL or :param as LIKE pattern, found number 5"},
		{"like column", "a LIKE b", 7, "expected a string, NULL or :param as LIKE pattern, found column b"},
		{"like trailing escape", `a LIKE 'x\'`, 7, `LIKE pattern must not end with the escape character \`},
		{"between without and", "a BETWEEN 1 OR 2", 12, "expected AND, found OR"},
		{"invalid utf8", "a = '\xff'", 5, "invalid UTF-8"},
		{"too deep parens", strings.Repeat("(", filter.MaxDepth+1) + "a = 1" + strings.Repeat(")", filter.MaxDepth+1), filter.MaxDepth, "filter nests deeper than 100 levels"},
		{"too deep not", strings.Repeat("NOT ", filter.MaxDepth+1) + "a = 1", 4 * filter.MaxDepth, "filter nests deeper than 100 levels"},
		{"too many tokens", "a IN (" + strings.Repeat("1,", filter.MaxTokens) + "1)", 6 + filter.MaxTokens - 3, "filter has more than 10000 tokens"},
		{"too long", "a = '" + strings.Repeat("x", filter.MaxLength) + "'", 4, "filter is longer than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := filter.Parse(tt.src)
			var se *filter.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse() error = %v, want *SyntaxError", err)
			}
			if se.Offset != tt.wantOff || se.Msg != tt.wantMsg {
				t.Fatalf("Parse() = offset %d %q, want offset %d %q", se.Offset, se.Msg, tt.wantOff, tt.wantMsg)
			}
		})
	}
}

func TestSyntaxErrorString(t *testing.T) {
	_, err := filter.Parse("a = ")
	if got, want := err.Error(), "offset 4: expected a column, :param or value, found end of filter"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestParseDepthLimitAccepted(t *testing.T) {
	src := strings.Repeat("(", filter.MaxDepth) + "a = 1" + strings.Repeat(")", filter.MaxDepth)
	mustParse(t, src)
	src = strings.Repeat("NOT ", filter.MaxDepth) + "a = 1"
	f := mustParse(t, src)
	mustParse(t, f.String())
}

func TestParamsColumns(t *testing.T) {
	f := mustParse(t, `b = :y AND "A" IN (:x, c, :y) AND a LIKE :z AND b BETWEEN :x AND d`)
	if got, want := f.Params(), []string{"x", "y", "z"}; !slices.Equal(got, want) {
		t.Errorf("Params() = %q, want %q", got, want)
	}
	if got, want := f.Columns(), []string{"A", "a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("Columns() = %q, want %q", got, want)
	}
	f.Params()[0] = "changed"
	if f.Params()[0] != "x" {
		t.Error("Params() returned the filter's own slice")
	}
	if got := mustParse(t, "a = 1").Params(); len(got) != 0 {
		t.Errorf("Params() = %q, want none", got)
	}
}

func mustNumber(t testing.TB, s string) filter.Value {
	t.Helper()
	v, err := filter.Number(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBind(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		params  map[string]filter.Value
		want    string
		wantErr string
	}{
		{
			name:   "string",
			src:    "state = :state",
			params: map[string]filter.Value{"state": filter.String("WA")},
			want:   "state = 'WA'",
		},
		{
			name: "every kind, extra ignored",
			src:  "a IN (:s, :i, :n, :b, :null)",
			params: map[string]filter.Value{
				"s": filter.String("it's"), "i": filter.Int(-3), "n": mustNumber(t, "0.50"),
				"b": filter.Bool(true), "null": filter.Null(), "extra": filter.Int(1),
			},
			want: "a IN ('it''s', -3, 0.5, TRUE, NULL)",
		},
		{
			name:   "repeated param",
			src:    "a = :p OR b = :p",
			params: map[string]filter.Value{"p": filter.Int(7)},
			want:   "a = 7 OR b = 7",
		},
		{
			name:   "like pattern",
			src:    "a LIKE :p",
			params: map[string]filter.Value{"p": filter.String(`x\_%`)},
			want:   `a LIKE 'x\_%'`,
		},
		{
			name:   "like null",
			src:    "a NOT LIKE :p",
			params: map[string]filter.Value{"p": filter.Null()},
			want:   "a NOT LIKE NULL",
		},
		{
			name:   "no params",
			src:    "a = 1",
			params: nil,
			want:   "a = 1",
		},
		{
			name:    "missing",
			src:     "a = :b AND c = :a AND d = :c",
			params:  map[string]filter.Value{"b": filter.Int(1)},
			wantErr: "bind filter: no value for :a, :c",
		},
		{
			name:    "like number",
			src:     "a LIKE :p",
			params:  map[string]filter.Value{"p": filter.Int(5)},
			wantErr: "bind filter: param :p is a LIKE pattern and must be a string, not int 5",
		},
		{
			name:    "invalid utf-8",
			src:     "a = :p",
			params:  map[string]filter.Value{"p": filter.String("\xff")},
			wantErr: "bind filter: param :p: string is not valid UTF-8",
		},
		{
			name:    "like bad pattern",
			src:     "a LIKE :p",
			params:  map[string]filter.Value{"p": filter.String(`ab\`)},
			wantErr: `bind filter: param :p: LIKE pattern must not end with the escape character \`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.src)
			before := f.String()
			got, err := f.Bind(tt.params)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Bind() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bind(): %v", err)
			}
			if got.String() != tt.want {
				t.Fatalf("Bind() = %q, want %q", got.String(), tt.want)
			}
			if len(got.Params()) != 0 {
				t.Errorf("Params() after Bind = %q", got.Params())
			}
			if f.String() != before {
				t.Errorf("Bind changed its receiver to %q", f.String())
			}
			if !reflect.DeepEqual(got, mustParse(t, got.String())) {
				t.Errorf("bound filter does not round-trip")
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	index := func(name string) int { return slices.Index([]string{"a", "b"}, name) }
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{"unknown column", "a = 1 AND zz = 2", `compile filter: unknown column "zz"`},
		{"unknown columns", `"Z" = 1 AND a = 1 AND y = 2`, `compile filter: unknown columns "Z", "y"`},
		{"unbound params", "a = :x OR b = :w", "compile filter: unbound params :w, :x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mustParse(t, tt.src).Compile(index)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Compile() error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		wantKind filter.Kind
		wantErr  bool
	}{
		{in: "12", want: "12", wantKind: filter.KindInt},
		{in: "-12.50", want: "-12.5", wantKind: filter.KindNumber},
		{in: "+3.0", want: "3", wantKind: filter.KindInt},
		{in: "0.000", want: "0", wantKind: filter.KindInt},
		{in: "9223372036854775808", want: "9223372036854775808", wantKind: filter.KindNumber},
		{in: "NaN", wantErr: true},
		{in: "Infinity", wantErr: true},
		{in: "1e3", wantErr: true},
		{in: "", wantErr: true},
		{in: "-", wantErr: true},
		{in: ".", wantErr: true},
	}
	for _, tt := range tests {
		v, err := filter.Number(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("Number(%q) = %v, want error", tt.in, v)
			}
			continue
		}
		if err != nil || v.String() != tt.want || v.Kind() != tt.wantKind {
			t.Errorf("Number(%q) = %v %v, %v; want %s %v", tt.in, v.Kind(), v, err, tt.want, tt.wantKind)
		}
	}
	if n := mustNumber(t, "2.0"); n != filter.Int(2) {
		t.Errorf("Number(2.0) != Int(2)")
	}
	if filter.Null() != (filter.Value{}) || filter.Null().String() != "NULL" {
		t.Errorf("zero Value is not NULL")
	}
}
