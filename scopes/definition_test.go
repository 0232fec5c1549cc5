package scopes_test

import (
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/scopes"
)

func TestDefinition(t *testing.T) {
	setDesignEnv(t)
	cfg, diags := scopes.Load("testdata/valid.hcl", scopes.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(formatted(t, diags))
	}
	want := `{"v":1,"scope":"products","source":"app","snapshot":"initial","tables":[` +
		`{"table":"public.product","target":"catalog.product","columns":["id","name","price","category_id"],"where":"price \u003e 0 AND discontinued_at IS NULL"},` +
		`{"table":"public.product_category","target":"public.product_category","columns":null}]}`
	if got := string(cfg.Scope("products").Definition()); got != want {
		t.Fatalf("Definition() =\n%s\nwant\n%s", got, want)
	}
	if got, want := cfg.Scope("products").Hash(), "fddbfb942a2f2881b833007932b6003fa955e020d5a02b8ee92e796e7583cf57"; got != want {
		t.Logf("Hash() = %s (update want if Definition's layout changed on purpose)", got)
		t.Fail()
	}
}

// TestDefinitionStable checks that the hash ignores what does not change a
// scope's content, and follows what does.
func TestDefinitionStable(t *testing.T) {
	base := `
source "postgres" "app" { dsn = "postgres://one" }
source "postgres" "app2" { dsn = "postgres://two" }
target "postgres" "a" { dsn = "postgres://a" }
target "postgres" "b" { dsn = "postgres://b" }
`
	hash := func(t *testing.T, body string) string {
		t.Helper()
		cfg := loadString(t, base+body)
		return cfg.Scopes[0].Hash()
	}
	ref := hash(t, `
scope "s" {
  source  = "app"
  targets = ["a"]
  table "public.x" { where = "a = 1 AND b IN ('x')" }
  table "public.y" {}
}`)
	same := map[string]string{
		"tables reordered, filter respelled, other targets and error policy": `
scope "s" {
  source         = "app"
  targets        = ["b", "a"]
  on_apply_error = "dlq"
  table "public.y" {}
  table "public.x" { where = "(A=1) and B in ( 'x' )" }
}`,
		"with depends_on (it orders what lands, not what)": `
scope "s" {
  source     = "app"
  targets    = ["a"]
  depends_on = ["first"]
  table "public.x" { where = "a = 1 AND b IN ('x')" }
  table "public.y" {}
}
scope "first" {
  source  = "app"
  targets = ["a"]
  table "public.z" {}
}`,
		"from a template": `
template "t" {
  params = ["v"]
  table "public.x" { where = "a = 1 AND b IN (:v)" }
  table "public.y" {}
}
scope "s" {
  source   = "app"
  template = "t"
  params   = { v = "x" }
}`,
	}
	for name, body := range same {
		if got := hash(t, body); got != ref {
			t.Errorf("%s: hash changed", name)
		}
	}
	variant := func(settings, x, y string) string {
		return "scope \"s\" {\n  source = \"app\"\n" + settings +
			"  table \"public.x\" {\n" + x + "  }\n  table \"public.y\" {\n" + y + "  }\n}\n"
	}
	where := "    where = \"a = 1 AND b IN ('x')\"\n"
	if got := hash(t, variant("", where, "")); got != ref {
		t.Fatalf("variant of the reference scope has another hash")
	}
	different := map[string]string{
		"filter":    variant("", "    where = \"a = 2 AND b IN ('x')\"\n", ""),
		"columns":   variant("", where, "    columns = [\"id\"]\n"),
		"target":    variant("", where, "    target = \"t.y\"\n"),
		"snapshot":  variant("  snapshot = \"never\"\n", where, ""),
		"source":    strings.Replace(variant("", where, ""), `"app"`, `"app2"`, 1),
		"mapping":   variant("", where, "    mapping {}\n"),
		"transform": variant("", where, "    mapping {\n      column \"n\" { expr = \"lower(name)\" }\n    }\n"),
		"hash key":  variant("", where, "    mapping {\n      hash_key = \"0123456789abcdef\"\n    }\n"),
	}
	mapped := hash(t, variant("", where, "    mapping {\n      column \"n\" { expr = \"lower(name)\" }\n    }\n"))
	if got := hash(t, variant("", where, "    mapping {\n      column \"n\" { expr = \"upper(name)\" }\n    }\n")); got == mapped {
		t.Errorf("changed transform: hash did not change")
	}
	for name, body := range different {
		if got := hash(t, body); got == ref {
			t.Errorf("%s: hash did not change", name)
		}
	}
}
