package scopes

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad checks that no config text makes Load panic, and that what it
// returns is consistent: a Config exactly when there are no errors, and
// one whose scopes can be indexed and hashed. The seeds are the test
// configs; env() and file() read fakes, never the machine's.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/*.hcl", "testdata/*/*.hcl"} {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src, false)
		}
	}
	f.Add([]byte(`scope "s" { source = env("X") }`), true)
	lookupEnv := func(name string) (string, bool) {
		return "value-of-" + name, len(name)%2 == 0
	}
	readFile := func(path string) ([]byte, error) {
		if filepath.Base(path) == "missing" {
			return nil, errors.New("no such file")
		}
		return []byte("content of " + path + "\n"), nil
	}
	f.Fuzz(func(t *testing.T, src []byte, allowMissing bool) {
		l := newLoader(LoadOptions{AllowMissingSecrets: allowMissing}, "/config", lookupEnv, readFile)
		cfg, diags := l.load([]configFile{{name: "fuzz.hcl", src: src}})
		if (cfg == nil) != diags.HasErrors() {
			t.Fatalf("config %v with errors %v", cfg != nil, diags.HasErrors())
		}
		if err := FormatDiagnostics(io.Discard, diags); err != nil {
			t.Fatal(err)
		}
		if cfg == nil {
			return
		}
		ix := NewIndex(cfg.Scopes)
		for _, s := range cfg.Scopes {
			s.Hash()
			for _, tb := range s.Tables {
				if tb.Scope != s || ix.Lookup(s.Source, tb.ID) == nil {
					t.Fatalf("table %s of scope %s is not indexed", tb.ID, s.Name)
				}
				if tb.Where != nil && len(tb.Where.Params()) > 0 {
					t.Fatalf("table %s of scope %s has unbound params", tb.ID, s.Name)
				}
			}
		}
	})
}
