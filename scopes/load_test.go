package scopes_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// configOptions compare configs without ranges and back pointers, and
// filters by their canonical text.
var configOptions = cmp.Options{
	cmpopts.IgnoreFields(scopes.Config{}, "DataDirRange"),
	cmpopts.IgnoreFields(scopes.NATS{}, "DeclRange"),
	cmpopts.IgnoreFields(scopes.Admin{}, "DeclRange"),
	cmpopts.IgnoreFields(scopes.Source{}, "DeclRange"),
	cmpopts.IgnoreFields(scopes.Target{}, "DeclRange"),
	cmpopts.IgnoreFields(scopes.Scope{}, "DeclRange"),
	cmpopts.IgnoreFields(scopes.Template{}, "DeclRange"),
	cmpopts.IgnoreFields(scopes.Table{}, "DeclRange", "Scope"),
	cmp.Comparer(func(a, b *filter.Filter) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.String() == b.String()
	}),
	cmp.Comparer(func(a, b filter.Value) bool { return a == b }),
}

func where(t *testing.T, src string) *filter.Filter {
	t.Helper()
	f, err := filter.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func table(schema, name string) capture.TableID { return capture.TableID{Schema: schema, Name: name} }

func formatted(t *testing.T, diags hcl.Diagnostics) string {
	t.Helper()
	var b strings.Builder
	if err := scopes.FormatDiagnostics(&b, diags); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func setDesignEnv(t *testing.T) {
	t.Setenv("APP_DATABASE_URL", "postgres://syncd@app/app")
	t.Setenv("SHOP_DSN", "syncd:secret@tcp(shop:3306)/shop")
	t.Setenv("REPLICA_URL", "postgres://syncd@replica/replica")
	t.Setenv("WA_STORE_DSN", "syncd:secret@tcp(wa:3306)/store")
	t.Setenv("ERP_DSN", "sqlserver://syncd@erp:1433?database=erp")
}

func TestLoadDesignExample(t *testing.T) {
	setDesignEnv(t)
	cfg, diags := scopes.Load("testdata/valid.hcl", scopes.LoadOptions{})
	if len(diags) > 0 {
		t.Fatalf("Load: unexpected diagnostics:\n%s", formatted(t, diags))
	}
	wa := filter.String("WA")
	want := &scopes.Config{
		NATS: scopes.NATS{
			Listen:          "127.0.0.1:4222",
			StreamReplicas:  1,
			StreamMaxAge:    168 * time.Hour,
			DuplicateWindow: time.Second,
		},
		DataDir: "/var/lib/syncd",
		Admin:   scopes.Admin{Listen: "127.0.0.1:7070"},
		Sources: []*scopes.Source{
			{Kind: "postgres", Name: "app", DSN: "postgres://syncd@app/app", Slot: "syncd_app", Publication: "syncd_app"},
			{Kind: "mysql", Name: "shop", DSN: "syncd:secret@tcp(shop:3306)/shop", ServerID: 4001},
			{Kind: "sqlserver", Name: "erp", DSN: "sqlserver://syncd@erp:1433?database=erp", PollInterval: 250 * time.Millisecond},
		},
		Targets: []*scopes.Target{
			{Kind: "postgres", Name: "replica", DSN: "postgres://syncd@replica/replica", ScopeInfoTable: "syncd_scope_info", CreateTables: true, RemovedTables: "empty"},
			{Kind: "mysql", Name: "wa_store", DSN: "syncd:secret@tcp(wa:3306)/store", ScopeInfoTable: "syncd_scope_info", RemovedTables: "keep"},
		},
		Scopes: []*scopes.Scope{
			{
				Name: "products", Source: "app", Targets: []string{"replica"},
				Snapshot: "initial", OnApplyError: "stop", RowsPerMessage: 1,
				Tables: []*scopes.Table{
					{ID: table("public", "product_category"), Target: table("public", "product_category")},
					{
						ID:      table("public", "product"),
						Columns: []string{"id", "name", "price", "category_id"},
						Where:   where(t, "price > 0 AND discontinued_at IS NULL"),
						Target:  table("catalog", "product"),
					},
				},
			},
			{
				Name: "sales_wa", Source: "app", Targets: []string{"wa_store"},
				Snapshot: "initial", OnApplyError: "stop", RowsPerMessage: 1,
				Template: "sales_by_state", Params: map[string]filter.Value{"state": wa},
				Tables: []*scopes.Table{
					{ID: table("public", "orders"), Where: where(t, "state = 'WA'"), Target: table("public", "orders")},
					{ID: table("public", "order_details"), Where: where(t, "state = 'WA'"), Target: table("public", "order_details")},
				},
			},
		},
		Templates: []*scopes.Template{{
			Name:   "sales_by_state",
			Params: []string{"state"},
			Tables: []*scopes.Table{
				{ID: table("public", "orders"), Where: where(t, "state = :state"), Target: table("public", "orders")},
				{ID: table("public", "order_details"), Where: where(t, "state = :state"), Target: table("public", "order_details")},
			},
		}},
	}
	if diff := cmp.Diff(want, cfg, configOptions); diff != "" {
		t.Fatalf("Load mismatch (-want +got):\n%s", diff)
	}

	for _, s := range cfg.Scopes {
		for _, tb := range s.Tables {
			if tb.Scope != s {
				t.Errorf("table %s of scope %s points at scope %v", tb.ID, s.Name, tb.Scope)
			}
		}
	}
	for _, tb := range cfg.Templates[0].Tables {
		if tb.Scope != nil {
			t.Errorf("template table %s has a scope", tb.ID)
		}
	}
	if cfg.Scopes[1].Tables[0] == cfg.Templates[0].Tables[0] {
		t.Error("scope shares its table with the template")
	}
	products := cfg.Scope("products")
	if got := products.DeclRange; got.Filename != "testdata/valid.hcl" || got.Start.Line != 40 || got.Start.Column != 1 {
		t.Errorf("products DeclRange = %v", got)
	}
	if got := products.Tables[1].DeclRange.Start.Line; got != 46 {
		t.Errorf("product table DeclRange line = %d, want 46", got)
	}
	if cfg.Source("shop").ServerID != 4001 || cfg.Target("replica") == nil || cfg.Source("nope") != nil || cfg.Scope("nope") != nil || cfg.Target("nope") != nil {
		t.Error("lookups by name are wrong")
	}
}

func TestLoadDirectory(t *testing.T) {
	t.Setenv("APP_DATABASE_URL", "postgres://syncd@app/app")
	t.Setenv("REPORTING_DSN", "syncd:pw@tcp(reporting:3306)/reporting")
	cfg, diags := scopes.Load("testdata/split", scopes.LoadOptions{})
	if len(diags) > 0 {
		t.Fatalf("Load: unexpected diagnostics:\n%s", formatted(t, diags))
	}
	dir, err := filepath.Abs("testdata/split")
	if err != nil {
		t.Fatal(err)
	}
	half, err := filter.Number("0.5")
	if err != nil {
		t.Fatal(err)
	}
	orders := table("public", "orders")
	want := &scopes.Config{
		NATS: scopes.NATS{
			URL:             "nats://nats-1:4222,nats://nats-2:4222",
			Listen:          "127.0.0.1:4222",
			Creds:           "not-a-real-jwt\nnot-a-real-seed",
			TLS:             &scopes.TLS{CAFile: filepath.Join(dir, "ca.pem")},
			StreamReplicas:  3,
			StreamMaxAge:    720 * time.Hour,
			StreamMaxBytes:  1 << 30,
			DuplicateWindow: 5 * time.Minute,
		},
		DataDir: filepath.Join(dir, "state"),
		Admin:   scopes.Admin{Listen: "127.0.0.1:7070"},
		Sources: []*scopes.Source{
			{Kind: "postgres", Name: "app-eu", DSN: "postgres://syncd@app/app", Slot: "syncd_app_eu", Publication: "syncd_app_eu"},
			{Kind: "mysql", Name: "erp", DSN: "syncd@tcp(erp:3306)/erp", ServerID: 4002},
		},
		Targets: []*scopes.Target{
			{Kind: "mysql", Name: "reporting", DSN: "syncd:pw@tcp(reporting:3306)/reporting", ScopeInfoTable: "syncd_scope_info", RemovedTables: "keep"},
		},
		Scopes: []*scopes.Scope{
			{
				Name: "orders-eu", Source: "app-eu", Targets: []string{"reporting"},
				Snapshot: "never", OnApplyError: "dlq", RowsPerMessage: 100, Template: "by_region",
				Params: map[string]filter.Value{"region": filter.String("eu"), "min_total": half},
				Tables: []*scopes.Table{{
					ID: orders, Columns: []string{"id", "region", "total"}, Target: orders,
					Where: where(t, "region = 'eu' AND total >= 0.5"),
				}},
			},
			{
				Name: "erp_items", Source: "erp", Targets: []string{}, Snapshot: "initial", OnApplyError: "stop", RowsPerMessage: 1,
				Tables: []*scopes.Table{{ID: table("dbo", "items"), Target: table("dbo", "items")}},
			},
		},
		Templates: []*scopes.Template{{
			Name:   "by_region",
			Params: []string{"region", "min_total"},
			Tables: []*scopes.Table{{
				ID: orders, Columns: []string{"id", "region", "total"}, Target: orders,
				Where: where(t, "region = :region AND total >= :min_total"),
			}},
		}},
	}
	if diff := cmp.Diff(want, cfg, configOptions); diff != "" {
		t.Fatalf("Load mismatch (-want +got):\n%s", diff)
	}
	if got := cfg.Scopes[1].DeclRange.Filename; got != filepath.Join("testdata", "split", "20-scopes.hcl") {
		t.Errorf("DeclRange.Filename = %q", got)
	}
}

func TestLoadMissingSecretsAllowed(t *testing.T) {
	for _, name := range []string{"APP_DATABASE_URL", "SHOP_DSN", "ERP_DSN", "REPLICA_URL", "WA_STORE_DSN"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	cfg, diags := scopes.Load("testdata/valid.hcl", scopes.LoadOptions{AllowMissingSecrets: true})
	want := `testdata/valid.hcl:14:17: warning: Secret not available: Environment variable "APP_DATABASE_URL" is not set; using an empty string, which is only allowed when validating.
testdata/valid.hcl:20:15: warning: Secret not available: Environment variable "SHOP_DSN" is not set; using an empty string, which is only allowed when validating.
testdata/valid.hcl:25:19: warning: Secret not available: Environment variable "ERP_DSN" is not set; using an empty string, which is only allowed when validating.
testdata/valid.hcl:30:22: warning: Secret not available: Environment variable "REPLICA_URL" is not set; using an empty string, which is only allowed when validating.
testdata/valid.hcl:37:9: warning: Secret not available: Environment variable "WA_STORE_DSN" is not set; using an empty string, which is only allowed when validating.
`
	if got := formatted(t, diags); got != want {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", got, want)
	}
	if cfg == nil || cfg.Source("app").DSN != "" {
		t.Fatalf("Load returned %v, want a config with empty DSNs", cfg)
	}
}

// TestLoadWithoutDatabaseSecrets loads as `syncd tail` does: the DSNs'
// env() variables are not needed, but NATS credentials are still read.
func TestLoadWithoutDatabaseSecrets(t *testing.T) {
	for _, name := range []string{"APP_DATABASE_URL", "REPORTING_DSN"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	cfg, diags := scopes.Load("testdata/split", scopes.LoadOptions{SkipDatabaseSecrets: true})
	if len(diags) > 0 {
		t.Fatalf("Load: unexpected diagnostics:\n%s", formatted(t, diags))
	}
	if cfg.Source("app-eu").DSN != "" || cfg.Target("reporting").DSN != "" {
		t.Errorf("DSNs %q and %q, want both unevaluated", cfg.Source("app-eu").DSN, cfg.Target("reporting").DSN)
	}
	if cfg.NATS.Creds != "not-a-real-jwt\nnot-a-real-seed" {
		t.Errorf("NATS creds %q, want the file's content", cfg.NATS.Creds)
	}
}

func TestLoadNoFiles(t *testing.T) {
	dir := t.TempDir()
	_, diags := scopes.Load(dir, scopes.LoadOptions{})
	if got, want := formatted(t, diags), "error: No config files: Directory "+dir+" has no .hcl files.\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	_, diags = scopes.Load(filepath.Join(dir, "missing.hcl"), scopes.LoadOptions{})
	if got := formatted(t, diags); !strings.HasPrefix(got, "error: Cannot read config: Read config: stat ") {
		t.Fatalf("got %q", got)
	}
}

// TestLoadSQLServer loads a SQL Server source and target, which syncd
// runs (earlier versions refused them as not implemented).
func TestLoadSQLServer(t *testing.T) {
	cfg, diags := scopes.Load("testdata/sqlserver.hcl", scopes.LoadOptions{})
	if len(diags) > 0 {
		t.Fatalf("Load: unexpected diagnostics:\n%s", formatted(t, diags))
	}
	src, dst := cfg.Source("erp"), cfg.Target("dwh")
	if src == nil || src.Kind != scopes.KindSQLServer || src.PollInterval != 250*time.Millisecond || src.DSN != "sqlserver://syncd@erp:1433?database=erp" {
		t.Errorf("source erp = %+v", src)
	}
	if dst == nil || dst.Kind != scopes.KindSQLServer || dst.ScopeInfoTable != "syncd_scope_info" || dst.DSN != "sqlserver://syncd@dwh:1433?database=dwh" {
		t.Errorf("target dwh = %+v", dst)
	}
}

// TestLoadReverseMapping checks that the table of a two-way scope that
// syncs back a table mapped by pure renames, without a mapping of its
// own, gets the inverse mapping, and keeps a declared one.
func TestLoadReverseMapping(t *testing.T) {
	cfg := loadString(t, `
source "postgres" "a" { dsn = "postgres://a" }
source "postgres" "b" { dsn = "postgres://b" }
target "postgres" "ta" {
  dsn     = "postgres://a"
  same_as = "a"
}
target "postgres" "tb" {
  dsn     = "postgres://b"
  same_as = "b"
}
scope "ab" {
  source    = "a"
  targets   = ["tb"]
  snapshot  = "never"
  conflicts = "source_wins"
  table "public.tags" {
    mapping {
      column "name" { from = "label" }
    }
  }
  table "public.people" {
    mapping {
      column "first" { expr = "split(full, ' ')[0]" }
    }
  }
}
scope "ba" {
  source    = "b"
  targets   = ["ta"]
  snapshot  = "never"
  conflicts = "target_wins"
  table "public.tags" {}
  table "public.people" {
    mapping {
      column "full" { expr = "first" }
    }
  }
}
`)
	back := cfg.Scope("ba")
	tags, people := back.Tables[0].Mapping, back.Tables[1].Mapping
	if tags == nil || string(tags.Definition()) != `{"auto":"exact","columns":[{"name":"label","from":"name"}]}` {
		t.Errorf("derived reverse of the tags rename: %v", tags)
	}
	if people == nil || len(people.Columns) != 1 || people.Columns[0].Expr.Source != "first" {
		t.Errorf("declared reverse of people replaced: %v", people)
	}
}
