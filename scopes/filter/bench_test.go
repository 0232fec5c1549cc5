package filter_test

import (
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes/filter"
)

func BenchmarkEval(b *testing.B) {
	f := mustParse(b, "price > 0 AND discontinued_at IS NULL")
	p, err := f.Compile(func(name string) int {
		switch name {
		case "price":
			return 1
		case "discontinued_at":
			return 2
		}
		return -1
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		row  capture.Row
	}{
		{"int64", capture.Row{int64(42), int64(1999), nil, "Widget"}},
		{"decimal", capture.Row{int64(42), capture.Decimal("19.99"), nil, "Widget"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p.Eval(bc.row) != filter.True {
					b.Fatal("row does not match")
				}
			}
		})
	}
}
