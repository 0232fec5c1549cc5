package scopes_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/syncd-dev/syncd/scopes"
)

func TestFormatDiagnostics(t *testing.T) {
	rng := &hcl.Range{Filename: "a.hcl", Start: hcl.Pos{Line: 3, Column: 7, Byte: 40}}
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Bad thing", Detail: "It is bad.", Subject: rng},
		{Severity: hcl.DiagWarning, Summary: "Odd thing", Detail: "Two\nlines.", Subject: rng},
		{Severity: hcl.DiagError, Summary: "No detail", Subject: rng},
		{Severity: hcl.DiagError, Summary: "Nowhere", Detail: "No subject."},
	}
	want := `a.hcl:3:7: error: Bad thing: It is bad.
a.hcl:3:7: warning: Odd thing: Two lines.
a.hcl:3:7: error: No detail
error: Nowhere: No subject.
`
	if got := formatted(t, diags); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// loadString loads src as the only file of a config directory.
func loadString(t *testing.T, src string) *scopes.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "syncd.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := scopes.Load(path, scopes.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("Load:\n%s", formatted(t, diags))
	}
	return cfg
}
