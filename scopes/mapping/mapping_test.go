package mapping

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/syncd-dev/syncd/capture"
)

func customers() *capture.Table {
	return &capture.Table{Schema: "public", Name: "customers", Key: []int{0}, Columns: []capture.Column{
		{Name: "id", Type: "integer"}, {Name: "full_name", Type: "text"},
		{Name: "email", Type: "character varying(200)"}, {Name: "ssn", Type: "text"},
	}}
}

func mustParse(t *testing.T, src string) *Expr {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	return e
}

func clients(t *testing.T) *Spec {
	return &Spec{
		Auto: AutoExact,
		Drop: []string{"full_name", "ssn"},
		Columns: []Column{
			{Name: "first_name", Expr: mustParse(t, `split(full_name, " ")[0]`)},
			{Name: "last_name", Expr: mustParse(t, `split(full_name, " ")[1]`), Type: "varchar(100)"},
			{Name: "email_address", From: "email"},
			{Name: "ssn_hash", Expr: mustParse(t, `hmac_sha256(ssn)`)},
		},
		HashKey: []byte("k"),
	}
}

func TestCompileMapsRows(t *testing.T) {
	m, err := Compile(clients(t), customers(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	wantTable := &capture.Table{Schema: "public", Name: "customers", Key: []int{0}, Columns: []capture.Column{
		{Name: "id", Type: "integer"}, {Name: "first_name", Type: "text"}, {Name: "last_name", Type: "varchar(100)"},
		{Name: "email_address", Type: "character varying(200)"}, {Name: "ssn_hash", Type: "text"},
	}}
	if diff := cmp.Diff(wantTable, m.Table()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	got, err := m.Map(capture.Row{int32(7), "Ada Lovelace", "ada@example.com", "123"})
	if err != nil {
		t.Fatal(err)
	}
	want := capture.Row{int32(7), "Ada", "Lovelace", "ada@example.com",
		"c1e6a8ff1d05c1a3d4f4bdb5c8b5d3a7c6e9d0b4a6a1cb0d7e8cfd2c0a3b2d1e"}
	want[4] = got[4] // checked below: a 64-digit hex HMAC
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	if h, _ := got[4].(string); len(h) != 64 || h == "123" {
		t.Errorf("ssn_hash = %v, want a hex HMAC-SHA-256", got[4])
	}
	other, _ := Compile(&Spec{Auto: AutoExact, Drop: []string{"full_name", "ssn", "email"}, HashKey: []byte("other"),
		Columns: []Column{{Name: "h", Expr: mustParse(t, `hmac_sha256(ssn)`)}}}, customers(), "postgres")
	if o, _ := other.Map(capture.Row{int32(7), "Ada Lovelace", "x", "123"}); o[1] == got[4] {
		t.Error("two hash keys gave the same HMAC")
	}
}

func TestMapAbsentAndErrors(t *testing.T) {
	m, err := Compile(clients(t), customers(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	old, err := m.Map(capture.Row{int32(7), capture.Absent, capture.Absent, capture.Absent})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(capture.Row{int32(7), capture.Absent, capture.Absent, capture.Absent, capture.Absent}, old); diff != "" {
		t.Errorf("key-only old image (-want +got):\n%s", diff)
	}
	_, err = m.Map(capture.Row{int32(8), "Plato", "p@example.com", "1"})
	var re *RowError
	if !errors.As(err, &re) || re.Column != "last_name" || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("one-word name: err = %v, want a RowError on last_name, index out of range", err)
	}
	if row, _ := m.Map(nil); row != nil {
		t.Errorf("Map(nil) = %v", row)
	}
}

func TestFunctions(t *testing.T) {
	tbl := &capture.Table{Schema: "s", Name: "t", Key: []int{0}, Columns: []capture.Column{
		{Name: "id", Type: "bigint"}, {Name: "name", Type: "text"}, {Name: "price", Type: "numeric(10,2)"},
		{Name: "qty", Type: "integer"}, {Name: "at", Type: "timestamp with time zone"}, {Name: "nick", Type: "text"},
	}}
	tests := []struct {
		expr string
		want any
		typ  string
	}{
		{`upper(trim(name))`, "ADA L", "text"},
		{`lower(name)`, " ada l ", "text"},
		{`join(split(trim(name), " "), "-")`, "Ada-L", "text"},
		{`concat(name, "/", qty, nick)`, " Ada L /3", "text"},
		{`substring(trim(name), 1, 2)`, "da", "text"},
		{`regex_replace(name, "[^A-Za-z]", "")`, "AdaL", "text"},
		{`coalesce(nick, "none")`, "none", "text"},
		{`nick ?? "none"`, "none", "text"},
		{`qty * 2 + 1`, int64(7), "bigint"},
		{`float(price) * qty`, 29.97, "double precision"},
		{`string(qty)`, "3", "text"},
		{`int("42")`, int64(42), "bigint"},
		{`format_time(at, "2006-01-02")`, "2026-03-01", "text"},
		{`"constant"`, "constant", "text"},
		{`42`, int64(42), "bigint"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			m, err := Compile(&Spec{Auto: AutoNone, Columns: []Column{{Name: "id"}, {Name: "x", Expr: mustParse(t, tt.expr)}}}, tbl, "postgres")
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Table().Columns[1].Type; got != tt.typ {
				t.Errorf("type = %q, want %q", got, tt.typ)
			}
			at := mustTime(t, "2026-03-01T10:00:00Z")
			row, err := m.Map(capture.Row{int64(1), " Ada L ", capture.Decimal("9.99"), int32(3), at, nil})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, row[1]); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tbl := customers()
	tests := []struct {
		name string
		spec *Spec
		want string
	}{
		{"unknown column", &Spec{Auto: AutoExact, Columns: []Column{{Name: "x", From: "nope"}}}, `no column "nope"`},
		{"expr reads unknown column", &Spec{Auto: AutoExact, Columns: []Column{{Name: "x", Expr: mustParse(t, `lower(nope)`)}}}, `unknown column "nope"`},
		{"type error", &Spec{Auto: AutoExact, Columns: []Column{{Name: "x", Expr: mustParse(t, `id + full_name`)}}}, "mismatched types"},
		{"type error at its position", &Spec{Auto: AutoExact, Columns: []Column{{Name: "x", Expr: mustParse(t, `lower(id)`), Pos: "syncd.hcl:9:7"}}}, `syncd.hcl:9:7: target column "x": at character 7: cannot use int`},
		{"key dropped", &Spec{Auto: AutoExact, Drop: []string{"id"}}, `key column "id"`},
		{"key transformed", &Spec{Auto: AutoExact, Drop: []string{"id"}, Columns: []Column{{Name: "k", Expr: mustParse(t, `id * 2`)}}}, "not declared injective"},
		{"collision", &Spec{Auto: AutoExact, Columns: []Column{{Name: "email", From: "full_name"}}}, `"email" is declared and also carried over`},
		{"result the declared type cannot hold", &Spec{Auto: AutoExact, Columns: []Column{{Name: "n", Expr: mustParse(t, `upper(full_name)`), Type: "integer", Pos: "syncd.hcl:4:7"}}},
			`syncd.hcl:4:7: target column "n": the expression's result has type string, which a column of type "integer" cannot hold`},
		{"hmac without key", &Spec{Auto: AutoExact, Columns: []Column{{Name: "h", Expr: mustParse(t, `hmac_sha256(ssn)`)}}}, "hash_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.spec, tbl, "postgres")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestSQLServerTypes: expressions over a SQL Server table are checked
// against the values its source publishes: rowversion (timestamp) as
// bytes, datetimeoffset as a time, datetime2 and money as text.
func TestSQLServerTypes(t *testing.T) {
	tbl := &capture.Table{Schema: "dbo", Name: "t", Key: []int{0}, Columns: []capture.Column{
		{Name: "id", Type: "int"}, {Name: "rv", Type: "timestamp"}, {Name: "at", Type: "datetimeoffset(7)"},
		{Name: "local", Type: "datetime2(7)"}, {Name: "price", Type: "money"},
	}}
	compile := func(src string) error {
		_, err := Compile(&Spec{Auto: AutoExact, Columns: []Column{{Name: "x", Expr: mustParse(t, src)}}}, tbl, "sqlserver")
		return err
	}
	for _, src := range []string{`format_time(at, "2006")`, `upper(local) + price`} {
		if err := compile(src); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	for _, src := range []string{`upper(rv)`, `upper(at)`} {
		if err := compile(src); err == nil || !strings.Contains(err.Error(), "cannot use") {
			t.Errorf("%s: err = %v, want a type error", src, err)
		}
	}
}

func TestInjectiveKeyAndFold(t *testing.T) {
	tbl := &capture.Table{Schema: "s", Name: "t", Key: []int{0}, Columns: []capture.Column{
		{Name: "ID", Type: "integer"}, {Name: "FullName", Type: "text"},
	}}
	m, err := Compile(&Spec{Auto: AutoFold, Drop: []string{"id"}, Columns: []Column{
		{Name: "key", Expr: mustParse(t, `"c-" + string(ID)`), Injective: true},
		{Name: "full_name"},
	}}, tbl, "mysql")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]capture.Column{{Name: "key", Type: "longtext"}, {Name: "full_name", Type: "text"}}, m.Table().Columns); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0}, m.Table().Key); diff != "" {
		t.Errorf("key (-want +got):\n%s", diff)
	}
	b, err := Compile(&Spec{Auto: AutoNone, Columns: []Column{{Name: "ID"}, {Name: "long", Expr: mustParse(t, `len(FullName) > 3`)}}}, tbl, "mysql")
	if err != nil {
		t.Fatal(err)
	}
	if row, _ := b.Map(capture.Row{int32(1), "Ada Lovelace"}); b.Table().Columns[1].Type != "tinyint" || row[1] != int64(1) {
		t.Errorf("bool from a MySQL source: type %q, value %#v; want tinyint, 1", b.Table().Columns[1].Type, row[1])
	}
	ambiguous := &capture.Table{Schema: "s", Name: "t", Columns: []capture.Column{{Name: "full_name"}, {Name: "FullName"}}}
	if _, err := Compile(&Spec{Auto: AutoFold, Columns: []Column{{Name: "n", From: "fullname"}}}, ambiguous, "mysql"); err == nil || !strings.Contains(err.Error(), "matches columns") {
		t.Errorf("ambiguous fold: err = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`lower(`, "unexpected token"},
		{`nosuchfunc(x)`, "unknown"},
		{`now()`, "unknown"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.src)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, tt.want) {
			t.Errorf("Parse(%q) = %v, want a SyntaxError containing %q", tt.src, err, tt.want)
		}
	}
	e := mustParse(t, `concat(a, lower(b), a)`)
	if diff := cmp.Diff([]string{"a", "b"}, e.Refs); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
}

func TestDefinitionRoundTrip(t *testing.T) {
	s := clients(t)
	d := s.Definition()
	if strings.Contains(string(d), `"k"`) {
		t.Errorf("definition %s holds the hash key", d)
	}
	back, err := ParseDefinition(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(back.Definition()) != string(d) {
		t.Errorf("round trip: %s, want %s", back.Definition(), d)
	}
	s.HashKey = []byte("rotated")
	if string(s.Definition()) == string(d) {
		t.Error("rotating the hash key left the definition as it was")
	}
}

func mustTime(t *testing.T, s string) any {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRelanded(t *testing.T) {
	parse := func(src string) *Expr {
		e, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	spec := func(first string, mod func(*Spec)) *Spec {
		s := &Spec{Auto: AutoExact, Drop: []string{"full_name"}, HashKey: []byte("0123456789abcdef"), Columns: []Column{
			{Name: "first", Expr: parse(first)},
			{Name: "last", Expr: parse("split(full_name, ' ')[1]")},
			{Name: "mail", From: "email"},
		}}
		if mod != nil {
			mod(s)
		}
		return s
	}
	old := spec("split(full_name, ' ')[0]", nil)
	tests := []struct {
		name string
		new  *Spec
		want []string
	}{
		{"expr changed", spec("upper(split(full_name, ' ')[0])", nil), []string{"first"}},
		{"same", spec("split(full_name, ' ')[0]", nil), nil},
		{"from changed", spec("split(full_name, ' ')[0]", func(s *Spec) { s.Columns[2].From = "email2" }), nil},
		{"type changed", spec("upper(full_name)", func(s *Spec) { s.Columns[0].Type = "text" }), nil},
		{"drop changed", spec("upper(full_name)", func(s *Spec) { s.Drop = nil }), nil},
		{"hash key changed", spec("upper(full_name)", func(s *Spec) { s.HashKey = []byte("another key 0123") }), nil},
		{"column added", spec("upper(full_name)", func(s *Spec) { s.Columns = append(s.Columns, Column{Name: "x", Expr: parse("1")}) }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The running definition is rebuilt from the record, without the key.
			rec, err := ParseDefinition(old.Definition())
			if err != nil {
				t.Fatal(err)
			}
			if got := Relanded(rec, tt.new); !slices.Equal(got, tt.want) {
				t.Errorf("Relanded = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInverse(t *testing.T) {
	renames := &Spec{Auto: AutoExact, Columns: []Column{{Name: "name", From: "label"}, {Name: "id"}}}
	want := &Spec{Auto: AutoExact, Columns: []Column{{Name: "label", From: "name"}, {Name: "id", From: "id"}}}
	if diff := cmp.Diff(want, renames.Inverse(), cmp.AllowUnexported(Spec{})); diff != "" {
		t.Errorf("inverse of renames (-want +got):\n%s", diff)
	}
	for name, s := range map[string]*Spec{
		"computed": {Auto: AutoExact, Columns: []Column{{Name: "n", Expr: mustParse(t, "upper(label)")}}},
		"dropped":  {Auto: AutoExact, Drop: []string{"label"}},
		"folded":   {Auto: AutoFold, Columns: []Column{{Name: "name", From: "Label"}}},
	} {
		if inv := s.Inverse(); inv != nil {
			t.Errorf("%s: Inverse = %+v, want none", name, inv)
		}
	}
}
