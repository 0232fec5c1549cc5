package mapping

import (
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

// BenchmarkMapFive maps a row with the five transforms of the bench's
// transforms run (test/bench/transforms.go): split, concat, lower, regex
// replace, keyed hash.
func BenchmarkMapFive(b *testing.B) {
	tbl := &capture.Table{Schema: "public", Name: "people", Key: []int{0}, Columns: []capture.Column{
		{Name: "id", Type: "bigint"}, {Name: "full_name", Type: "text"}, {Name: "email", Type: "text"},
		{Name: "phone", Type: "text"}, {Name: "ssn", Type: "text"},
	}}
	parse := func(src string) *Expr {
		e, err := Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	m, err := Compile(&Spec{Auto: AutoExact, Drop: []string{"ssn"}, HashKey: []byte("bench-hash-key-0123456789"), Columns: []Column{
		{Name: "first_name", Expr: parse(`split(full_name, ' ')[0]`)},
		{Name: "display", Expr: parse(`concat(full_name, ' <', email, '>')`)},
		{Name: "email_lc", Expr: parse(`lower(email)`)},
		{Name: "phone_digits", Expr: parse(`regex_replace(phone, '[^0-9]', '')`)},
		{Name: "ssn_hash", Expr: parse(`hmac_sha256(ssn)`)},
	}}, tbl, "postgres")
	if err != nil {
		b.Fatal(err)
	}
	row := capture.Row{int64(42), "First42 Last42", "User42@Example.COM", "+1 (555) 0000042", "a1d0c6e83f027327d8461063f4ac58a6"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Map(row); err != nil {
			b.Fatal(err)
		}
	}
}
