package filter_test

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// fuzzTable is the fixed table FuzzEval compiles filters against: one
// column of each kind of capture value. A column name the table does not
// have resolves to one of its columns by hash, so that every filter the
// fuzzer writes compiles.
var fuzzTable = []struct {
	name string
	kind byte // what the row builder puts there; see fuzzRow
}{
	{"id", 'l'}, {"qty", 'i'}, {"price", 'd'}, {"name", 's'}, {"ok", 'b'},
	{"ts", 't'}, {"score", 'f'}, {"big", 'u'}, {"doc", 'j'}, {"raw", 'y'},
}

func fuzzColumn(name string) int {
	for i, c := range fuzzTable {
		if c.name == name {
			return i
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % uint32(len(fuzzTable)))
}

// FuzzEval checks the evaluator on filters and rows built from the fuzz
// input: Eval is one of the three truth values; NOT f evaluates to the
// three-valued negation of f; a row missing trailing columns evaluates
// like one with those columns Absent (Eval's contract); SQL renders in
// every dialect, and its PostgreSQL text, with each placeholder turned back
// into a param bound to its argument, parses and renders to the same text
// and arguments. Seeds are in testdata/fuzz/FuzzEval.
func FuzzEval(f *testing.F) {
	f.Add("price > 10.5 AND name LIKE 'W%' OR NOT ok", []byte("\x02\x07199.90\x03\x02WA\x04\x01"))
	f.Add("id BETWEEN :lo AND :hi AND qty IN (1, 2, NULL)", []byte("\x02\x00\x00\x00\x00\x00\x00\x00\x05\x02\x09\x00\x00\x00\x00\x00\x00\x00"))
	f.Add("ts >= '2026-03-01' AND score <> 'NaN' AND big > 9223372036854775807", []byte("\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05"))
	f.Add(`"Name" NOT LIKE :p OR doc = '{"a":1}' OR raw IS NOT NULL`, []byte("\x04\x03x\\%\x00\x01"))
	f.Add("NOT (price IS NULL OR price = -0.001) AND id <> :x", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Fuzz(func(t *testing.T, src string, data []byte) {
		fl, err := filter.Parse(src)
		if err != nil {
			return
		}
		in := &fuzzInput{data: data}
		params := map[string]filter.Value{}
		for _, name := range fl.Params() {
			params[name] = in.param()
		}
		bound, err := fl.Bind(params)
		if err != nil {
			return // a LIKE param bound to something else than a pattern
		}
		p, err := bound.Compile(fuzzColumn)
		if err != nil {
			t.Fatalf("Compile(%q): %v", bound, err)
		}
		// NOT f. Wrapping adds two levels of nesting, which may pass MaxDepth.
		var notP *filter.Program
		if nf, err := filter.Parse("NOT (" + bound.String() + ")"); err == nil {
			if notP, err = nf.Compile(fuzzColumn); err != nil {
				t.Fatalf("Compile(NOT (%s)): %v", bound, err)
			}
		} else if !isLimitError(err) {
			t.Fatalf("NOT (%s) does not parse: %v", bound, err)
		}

		for range 4 {
			row := in.row()
			got := p.Eval(row)
			if got != filter.False && got != filter.True && got != filter.Unknown {
				t.Fatalf("Eval(%q, %#v) = %d", bound, row, got)
			}
			if notP != nil {
				if n := notP.Eval(row); n != triNot(got) {
					t.Fatalf("%q on %#v is %v, but its NOT is %v", bound, row, got, n)
				}
			}
			// Missing columns are Absent.
			short := len(row)
			for short > 0 && row[short-1] == capture.Absent {
				short--
			}
			if s := p.Eval(row[:short]); s != got {
				t.Fatalf("%q on %#v is %v, without its trailing Absent columns %v", bound, row, got, s)
			}
			if in.empty() {
				break
			}
		}

		for _, d := range []filter.Dialect{filter.Postgres, filter.MySQL, filter.SQLServer} {
			bound.SQL(d, nil)
		}
		checkPostgresSQL(t, bound, len(data)%3)
	})
}

// checkPostgresSQL renders f as PostgreSQL after pre bind arguments, turns
// each $n back into a param :pn bound to argument n, and wants the result to
// render as the same text and arguments. The text has more parentheses and
// tokens than f's canonical text, so it may pass Parse's limits.
func checkPostgresSQL(t *testing.T, f *filter.Filter, pre int) {
	t.Helper()
	args := make([]any, pre)
	sql, args := f.SQL(filter.Postgres, args)
	text, n := placeholdersToParams(sql)
	if n != len(args)-pre {
		t.Fatalf("SQL(%q) = %q has %d placeholders for %d args", f, sql, n, len(args)-pre)
	}
	g, err := filter.Parse(text)
	if err != nil {
		if isLimitError(err) {
			return
		}
		t.Fatalf("SQL(%q) = %q does not parse back as %q: %v", f, sql, text, err)
	}
	params := map[string]filter.Value{}
	for i, a := range args[pre:] {
		params["p"+strconv.Itoa(pre+i+1)] = argValue(t, a)
	}
	g, err = g.Bind(params)
	if err != nil {
		t.Fatalf("SQL(%q) = %q parsed back as %q does not bind: %v", f, sql, text, err)
	}
	sql2, args2 := g.SQL(filter.Postgres, make([]any, pre))
	if sql2 != sql || !reflect.DeepEqual(args2, args) {
		t.Fatalf("SQL(%q) = %q %#v, parsed back and rendered again %q %#v", f, sql, args, sql2, args2)
	}
}

// placeholdersToParams replaces the $n placeholders outside quoted
// identifiers with :pn and returns the text and how many it replaced.
func placeholdersToParams(sql string) (string, int) {
	var b strings.Builder
	n, quoted := 0, false
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		if c == '"' {
			quoted = !quoted // a doubled quote toggles twice
		}
		if c == '$' && !quoted {
			j := i + 1
			for j < len(sql) && '0' <= sql[j] && sql[j] <= '9' {
				j++
			}
			b.WriteString(":p" + sql[i+1:j])
			n++
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), n
}

// argValue turns a bind argument back into a literal. Numbers that are not
// int64 go as their text, and come back as strings: the rendering is the
// same.
func argValue(t *testing.T, a any) filter.Value {
	switch a := a.(type) {
	case nil:
		return filter.Null()
	case bool:
		return filter.Bool(a)
	case int64:
		return filter.Int(a)
	case string:
		return filter.String(a)
	}
	t.Fatalf("SQL bind argument %T %#v", a, a)
	return filter.Value{}
}

func isLimitError(err error) bool {
	var se *filter.SyntaxError
	return errors.As(err, &se) && (strings.Contains(se.Msg, "nests deeper") ||
		strings.Contains(se.Msg, "more than") || strings.Contains(se.Msg, "longer than"))
}

func triNot(t filter.Tri) filter.Tri {
	switch t {
	case filter.True:
		return filter.False
	case filter.False:
		return filter.True
	}
	return filter.Unknown
}

// fuzzInput reads params and rows from fuzz bytes; past the end it reads
// zeros.
type fuzzInput struct{ data []byte }

func (in *fuzzInput) empty() bool { return len(in.data) == 0 }

func (in *fuzzInput) byte() byte {
	if len(in.data) == 0 {
		return 0
	}
	c := in.data[0]
	in.data = in.data[1:]
	return c
}

func (in *fuzzInput) bytes() []byte {
	n := min(int(in.byte()%32), len(in.data))
	b := in.data[:n]
	in.data = in.data[n:]
	return b
}

func (in *fuzzInput) uint64() uint64 {
	var b [8]byte
	n := copy(b[:], in.data)
	in.data = in.data[n:]
	return binary.LittleEndian.Uint64(b[:])
}

// decimal returns decimal text: digits from the input, or a special value.
func (in *fuzzInput) decimal() string {
	switch c := in.byte(); c % 8 {
	case 0:
		return []string{"NaN", "Infinity", "-Infinity", "1e5", "-0", "0.000", "", "+1"}[c/8%8]
	case 1:
		return string(in.bytes()) // anything, valid or not
	default:
		s := strconv.FormatInt(int64(in.uint64()), 10)
		if k := int(c / 8 % 24); k > 0 {
			s = strings.Repeat("0", k) + s
			s = s[:len(s)-k] + "." + s[len(s)-k:]
		}
		return s
	}
}

func (in *fuzzInput) param() filter.Value {
	switch c := in.byte(); c % 6 {
	case 0:
		return filter.Null()
	case 1:
		return filter.Bool(c&8 != 0)
	case 2:
		return filter.Int(int64(in.uint64()))
	case 3:
		if v, err := filter.Number(in.decimal()); err == nil {
			return v
		}
		return filter.Int(0)
	default:
		return filter.String(string(in.bytes()))
	}
}

// row builds a row of the fuzz table: each value NULL, Absent, of its
// column's kind, or of any kind of the capture value contract (and some
// outside it). Some rows are shorter than the table.
func (in *fuzzInput) row() capture.Row {
	n := len(fuzzTable)
	if c := in.byte(); c < 32 {
		n = int(c) % (n + 1)
	}
	row := make(capture.Row, n)
	for i := range row {
		kind := fuzzTable[i].kind
		switch c := in.byte(); c % 8 {
		case 0:
			row[i] = nil
			continue
		case 1:
			row[i] = capture.Absent
			continue
		case 2:
			kind = "lidsbtfujyx"[c/8%11]
		}
		row[i] = in.value(kind)
	}
	return row
}

func (in *fuzzInput) value(kind byte) any {
	switch kind {
	case 'l':
		return int64(in.uint64())
	case 'i':
		return int32(in.uint64())
	case 'd':
		return capture.Decimal(in.decimal())
	case 's':
		return string(in.bytes())
	case 'b':
		return in.byte()&1 == 1
	case 't':
		return time.Unix(int64(in.uint64()%(1<<40))-1<<39, int64(in.uint64()%1e9)).UTC()
	case 'f':
		if c := in.byte(); c < 16 {
			return []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 0.1, 1e300, 0x1p63}[c%8]
		}
		return math.Float64frombits(in.uint64())
	case 'u':
		return in.uint64()
	case 'j':
		return capture.JSON(in.bytes())
	case 'y':
		return in.bytes()
	}
	return []any{int64(1), "x"}
}
