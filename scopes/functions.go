package scopes

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxSecretFileSize caps what file() reads, so that a path like /dev/zero
// cannot exhaust memory.
const maxSecretFileSize = 1 << 20

// secrets implements the env() and file() functions of config expressions.
// With allowMissing, a secret that cannot be read evaluates to "" and is
// recorded in missing, for the loader to turn into a warning at the
// expression that asked for it.
type secrets struct {
	allowMissing bool
	baseDir      string
	lookupEnv    func(name string) (string, bool)
	readFile     func(path string) ([]byte, error)
	missing      []string // why each secret replaced by "" is missing
}

// functions returns the functions available in config expressions.
func (s *secrets) functions() map[string]function.Function {
	return map[string]function.Function{
		"env":  s.envFunc(),
		"file": s.fileFunc(),
	}
}

func (s *secrets) envFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			v, ok := s.lookupEnv(name)
			if !ok {
				return s.unavailable(fmt.Sprintf("environment variable %q is not set", name))
			}
			return cty.StringVal(v), nil
		},
	})
}

func (s *secrets) fileFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Returns a file's content without trailing newlines. Relative paths are relative to the config's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			if !filepath.IsAbs(path) {
				path = filepath.Join(s.baseDir, path)
			}
			data, err := s.readFile(path)
			if err != nil {
				return s.unavailable(err.Error())
			}
			if !utf8.Valid(data) {
				return cty.NilVal, fmt.Errorf("file %s is not UTF-8 text", path)
			}
			return cty.StringVal(strings.TrimRight(string(data), "\r\n")), nil
		},
	})
}

func (s *secrets) unavailable(reason string) (cty.Value, error) {
	if !s.allowMissing {
		return cty.NilVal, errors.New(reason)
	}
	s.missing = append(s.missing, reason)
	return cty.StringVal(""), nil
}

// take returns and forgets the secrets recorded missing so far.
func (s *secrets) take() []string {
	m := s.missing
	s.missing = nil
	return m
}

// readSecretFile reads a regular file of at most maxSecretFileSize bytes.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read secret file: %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	if len(data) > maxSecretFileSize {
		return nil, fmt.Errorf("read secret file: %s is larger than %d bytes", path, maxSecretFileSize)
	}
	return data, nil
}
