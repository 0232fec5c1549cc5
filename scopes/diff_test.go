package scopes_test

import (
	"slices"
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

const diffBase = `
source "postgres" "app" { dsn = "postgres://one" }
source "postgres" "app2" { dsn = "postgres://two" }
target "postgres" "a" { dsn = "postgres://a" }
template "region" {
  params = ["region", "min"]
  table "public.orders" {
    columns = ["id", "region", "total"]
    where   = "region = :region AND total >= :min"
  }
  table "public.customer" { where = "region = :region" }
}
`

// TestParseDefinition checks that a scope rebuilt from its Definition has
// the same Definition, for plain scopes and template scopes with params.
func TestParseDefinition(t *testing.T) {
	cfg := loadString(t, diffBase+`
scope "plain" {
  source   = "app"
  snapshot = "never"
  table "public.x" {
    columns = ["id", "name"]
    where   = "name LIKE 'a%' AND id NOT IN (1, 2) OR deleted_at IS NULL"
    target  = "mirror.x"
  }
  table "public.y" {}
}
scope "eu" {
  source   = "app"
  template = "region"
  params   = { region = "eu", min = 10.5 }
}
`)
	for _, s := range cfg.Scopes {
		got, err := scopes.ParseDefinition(s.Definition())
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if string(got.Definition()) != string(s.Definition()) {
			t.Errorf("%s: round trip gives\n%s\nwant\n%s", s.Name, got.Definition(), s.Definition())
		}
		if d := scopes.Diff(got, s, nil); d.Changed() {
			t.Errorf("%s: Diff of a scope with its own definition: %+v", s.Name, d)
		}
	}
	for name, bad := range map[string]string{
		"not json":       `{`,
		"other layout":   `{"v":2,"scope":"s","tables":[]}`,
		"table name":     `{"v":1,"scope":"s","tables":[{"table":"x","target":"public.x"}]}`,
		"bad filter":     `{"v":1,"scope":"s","tables":[{"table":"public.x","target":"public.x","where":"a ="}]}`,
		"no target name": `{"v":1,"scope":"s","tables":[{"table":"public.x","target":""}]}`,
	} {
		if _, err := scopes.ParseDefinition([]byte(bad)); err == nil {
			t.Errorf("%s: ParseDefinition succeeded", name)
		}
	}
}

func TestDiff(t *testing.T) {
	recorded := loadString(t, diffBase+`
scope "s" {
  source = "app"
  table "public.x" {
    columns = ["id", "a", "b"]
    where   = "a > 0"
  }
  table "public.y" {}
  table "public.z" {}
}
scope "eu" {
  source   = "app"
  template = "region"
  params   = { region = "eu", min = 10 }
}
`)
	config := loadString(t, diffBase+`
scope "s" {
  source   = "app2"
  snapshot = "never"
  table "public.x" {
    columns = ["id", "a", "c"]
    where   = "a > 10"
  }
  table "public.y" { target = "other.y" }
  table "public.w" { columns = ["id"] }
}
scope "eu" {
  source   = "app"
  template = "region"
  params   = { region = "eu", min = 20 }
}
`)
	old := func(name string) *scopes.Scope {
		s, err := scopes.ParseDefinition(recorded.Scope(name).Definition())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	all := func(id capture.TableID) []string { return []string{"id", "all_" + id.Name} }
	id := func(name string) capture.TableID { return capture.TableID{Schema: "public", Name: name} }

	d := scopes.Diff(old("s"), config.Scope("s"), all)
	if d.OldSource != "app" || d.NewSource != "app2" || d.OldSnapshot != "initial" || d.NewSnapshot != "never" {
		t.Errorf("source/snapshot: %+v", d)
	}
	type row struct {
		table                  capture.TableID
		added, removed         bool
		colsAdded, colsRemoved []string
		filter, target         bool
	}
	var got []row
	for _, td := range d.Tables {
		got = append(got, row{td.Table, td.Added, td.Removed, td.ColumnsAdded, td.ColumnsRemoved, td.FilterChanged, td.TargetChanged})
	}
	want := []row{
		{table: id("w"), added: true, colsAdded: []string{"id"}},
		{table: id("x"), colsAdded: []string{"c"}, colsRemoved: []string{"b"}, filter: true},
		{table: id("y"), target: true},
		{table: id("z"), removed: true, colsRemoved: []string{"id", "all_z"}},
	}
	if len(got) != len(want) {
		t.Fatalf("Tables = %+v\nwant %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.table != w.table || g.added != w.added || g.removed != w.removed || g.filter != w.filter || g.target != w.target ||
			!slices.Equal(g.colsAdded, w.colsAdded) || !slices.Equal(g.colsRemoved, w.colsRemoved) {
			t.Errorf("Tables[%d] = %+v, want %+v", i, g, w)
		}
	}
	x := d.Tables[1]
	if x.Old.Where.String() != "a > 0" || x.New.Where.String() != "a > 10" {
		t.Errorf("filter of x: %s -> %s", x.Old.Where, x.New.Where)
	}

	// A param change shows as the filters it is bound into.
	d = scopes.Diff(old("eu"), config.Scope("eu"), all)
	if len(d.Tables) != 1 || d.Tables[0].Table != id("orders") || !d.Tables[0].FilterChanged {
		t.Fatalf("eu: %+v", d)
	}
	if got, want := d.Tables[0].New.Where.String(), "region = 'eu' AND total >= 20"; got != want {
		t.Errorf("eu new filter = %s, want %s", got, want)
	}

	// Scopes added and removed list every table.
	d = scopes.Diff(nil, config.Scope("s"), nil)
	if !d.Added || len(d.Tables) != 3 || !d.Tables[0].Added || !slices.Equal(d.Tables[1].ColumnsAdded, []string{"id", "a", "c"}) ||
		!slices.Equal(d.Tables[2].ColumnsAdded, []string{"*"}) {
		t.Errorf("added scope: %+v", d)
	}
	d = scopes.Diff(old("s"), nil, nil)
	if !d.Removed || len(d.Tables) != 3 || !d.Tables[2].Removed || !d.Changed() {
		t.Errorf("removed scope: %+v", d)
	}
}

// TestDiffMapping checks that a recorded mapping, hash key fingerprint
// included, compares equal to the same config and that a changed
// transform is a table change.
func TestDiffMapping(t *testing.T) {
	mapped := func(expr string) *scopes.Scope {
		return loadString(t, diffBase+`
scope "m" {
  source = "app"
  table "public.x" {
    mapping {
      drop     = ["ssn"]
      hash_key = "0123456789abcdef"
      column "h" { expr = "hmac_sha256(ssn)" }
      column "n" { expr = "`+expr+`" }
    }
  }
}
`).Scope("m")
	}
	cfg := mapped("lower(name)")
	recorded, err := scopes.ParseDefinition(cfg.Definition())
	if err != nil {
		t.Fatal(err)
	}
	if d := scopes.Diff(recorded, cfg, nil); d.Changed() {
		t.Errorf("the recorded mapping differs from the config's: %+v", d)
	}
	d := scopes.Diff(recorded, mapped("upper(name)"), nil)
	if len(d.Tables) != 1 || !d.Tables[0].MappingChanged || d.Tables[0].FilterChanged || len(d.Tables[0].ColumnsAdded) > 0 {
		t.Errorf("changed transform: diff %+v, want the mapping of public.x changed only", d)
	}
}
