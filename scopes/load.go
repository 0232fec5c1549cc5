package scopes

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// LoadOptions tune Load.
type LoadOptions struct {
	// AllowMissingSecrets makes an env() variable that is not set, or a
	// file() that cannot be read, a warning and an empty string instead of
	// an error. `syncd validate` sets it: it opens no connections and may
	// run where the secrets are absent.
	AllowMissingSecrets bool
	// SkipDatabaseSecrets leaves the dsn of every source and target
	// unevaluated (empty), so that env() and file() are not asked for
	// database secrets. `syncd tail` and `syncd scopes` set it: they talk
	// to NATS and the admin server only. NATS secrets are still read.
	SkipDatabaseSecrets bool
}

// Load reads the configuration at path: one .hcl file, or a directory
// whose *.hcl files (not those in subdirectories, nor names starting with
// '.') are merged in name order, as if they were one file.
//
// Load reports every problem it finds, each with the range of the
// offending block, attribute or expression, sorted by file and position.
// The Config is nil if any diagnostic is an error; warnings come with a
// Config. A file with syntax errors stops Load after parsing, since the
// rest would be reported against a partial file.
func Load(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	files, baseDir, diags := readConfigFiles(path)
	if diags.HasErrors() {
		return nil, diags
	}
	l := newLoader(opts, baseDir, os.LookupEnv, readSecretFile)
	return l.load(files)
}

// configFile is one config file's name (as shown in diagnostics) and text.
type configFile struct {
	name string
	src  []byte
}

// readConfigFiles reads the file at path, or the *.hcl files in the
// directory at path. baseDir is the absolute directory that relative paths
// in the config are resolved against.
func readConfigFiles(path string) (files []configFile, baseDir string, diags hcl.Diagnostics) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", hcl.Diagnostics{readError(err)}
	}
	names := []string{path}
	baseDir = filepath.Dir(path)
	if st.IsDir() {
		baseDir = path
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, "", hcl.Diagnostics{readError(err)}
		}
		names = names[:0]
		for _, e := range entries { // sorted by name
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, filepath.Join(path, e.Name()))
			}
		}
		if len(names) == 0 {
			return nil, "", hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "No config files",
				Detail:   fmt.Sprintf("Directory %s has no .hcl files.", path),
			}}
		}
	}
	if baseDir, err = filepath.Abs(baseDir); err != nil {
		return nil, "", hcl.Diagnostics{readError(err)}
	}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			diags = append(diags, readError(err))
			continue
		}
		files = append(files, configFile{name: name, src: src})
	}
	return files, baseDir, diags
}

func readError(err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Cannot read config",
		Detail:   fmt.Sprintf("Read config: %v.", err),
	}
}

// loader holds the state of one Load: the parsed sources, the evaluation
// context and the diagnostics gathered so far.
type loader struct {
	opts    LoadOptions
	baseDir string
	src     map[string][]byte // config file name → text, to locate filter errors
	secrets *secrets
	ctx     *hcl.EvalContext
	diags   hcl.Diagnostics

	// Declarations seen so far, by kind and name, for duplicate checks.
	declared map[string]map[string]hcl.Range
	// scopes and templates keep the ranges that cross-reference checks
	// point at.
	scopes    []*scopeDecl
	templates map[string]*Template
}

func newLoader(opts LoadOptions, baseDir string, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) *loader {
	s := &secrets{
		allowMissing: opts.AllowMissingSecrets,
		baseDir:      baseDir,
		lookupEnv:    lookupEnv,
		readFile:     readFile,
	}
	return &loader{
		opts:      opts,
		baseDir:   baseDir,
		src:       map[string][]byte{},
		secrets:   s,
		ctx:       &hcl.EvalContext{Functions: s.functions()},
		declared:  map[string]map[string]hcl.Range{},
		templates: map[string]*Template{},
	}
}

// load parses, decodes and validates files as one configuration.
func (l *loader) load(files []configFile) (*Config, hcl.Diagnostics) {
	parser := hclparse.NewParser()
	var parsed []*hcl.File
	for _, f := range files {
		file, diags := parser.ParseHCL(f.src, f.name)
		l.diags = append(l.diags, diags...)
		if file != nil {
			parsed = append(parsed, file)
		}
		l.src[f.name] = f.src
	}
	if l.diags.HasErrors() {
		return nil, sortDiagnostics(l.diags)
	}
	content, diags := hcl.MergeFiles(parsed).Content(rootSchema())
	l.diags = append(l.diags, diags...)
	cfg := l.decodeRoot(content)
	l.resolve()
	l.links(cfg)
	if cfg != nil {
		l.checkPolicies(cfg)
	}
	diags = sortDiagnostics(l.diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return cfg, diags
}

// sortDiagnostics orders diags by file and position; diagnostics without a
// subject come first, in their original order.
func sortDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return -1
		case b.Subject == nil:
			return 1
		}
		if c := strings.Compare(a.Subject.Filename, b.Subject.Filename); c != 0 {
			return c
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
	return diags
}
