package scopes_test

import (
	"slices"
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

func TestIndex(t *testing.T) {
	orders := table("public", "orders")
	product := table("public", "product")
	zeta := &scopes.Scope{Name: "zeta", Source: "app"}
	zeta.Tables = []*scopes.Table{{Scope: zeta, ID: orders}, {Scope: zeta, ID: product}}
	alpha := &scopes.Scope{Name: "alpha", Source: "app"}
	alpha.Tables = []*scopes.Table{{Scope: alpha, ID: orders}}
	shop := &scopes.Scope{Name: "mid", Source: "shop"}
	shop.Tables = []*scopes.Table{{Scope: shop, ID: table("shop", "orders")}}
	ix := scopes.NewIndex([]*scopes.Scope{zeta, shop, alpha})

	tests := []struct {
		name   string
		source string
		table  capture.TableID
		want   []*scopes.Table
	}{
		{"two scopes in name order", "app", orders, []*scopes.Table{alpha.Tables[0], zeta.Tables[0]}},
		{"one scope", "app", product, []*scopes.Table{zeta.Tables[1]}},
		{"other source", "shop", table("shop", "orders"), []*scopes.Table{shop.Tables[0]}},
		{"same table other source", "shop", orders, nil},
		{"unknown source", "erp", orders, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ix.Lookup(tt.source, tt.table); !slices.Equal(got, tt.want) {
				t.Fatalf("Lookup(%s, %s) = %v, want %v", tt.source, tt.table, got, tt.want)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { ix.Lookup("app", orders) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
	if got, want := ix.Tables("app"), []capture.TableID{orders, product}; !slices.Equal(got, want) {
		t.Errorf("Tables(app) = %v, want %v", got, want)
	}
	if got := ix.Tables("erp"); len(got) != 0 {
		t.Errorf("Tables(erp) = %v, want none", got)
	}
}
