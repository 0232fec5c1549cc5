package mapping

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"
)

// functionNames are the functions syncd adds to expr's builtins;
// disabledBuiltins the builtins it removes.
var (
	functionNames    = []string{"concat", "substring", "regex_replace", "coalesce", "format_time", "hmac_sha256"}
	disabledBuiltins = []string{"now"}
)

// options returns the compile options of every expression: env types the
// column references, and the functions syncd adds to expr's builtins. The
// builtins that would make a row's mapping depend on when it is mapped
// (now) are removed, so that a row maps the same in a snapshot and in a
// replay.
func options(env map[string]any, key []byte) []expr.Option {
	return []expr.Option{
		expr.Env(env),
		expr.AllowUndefinedVariables(),
		expr.DisableBuiltin("now"),
		expr.DisableBuiltin("concat"),
		expr.Function("concat", concat, new(func(...any) string)),
		expr.Function("substring", substring, new(func(string, int, int) string)),
		expr.Function("regex_replace", regexReplace, new(func(string, string, string) string)),
		expr.Function("coalesce", coalesce,
			new(func(...string) string), new(func(...int) int), new(func(...float64) float64), new(func(...any) any)),
		expr.Function("format_time", formatTime, new(func(any, string) string)),
		expr.Function("hmac_sha256", hmacFunc(key), new(func(any) string)),
	}
}

// concat joins the text form of its arguments, skipping nulls.
func concat(args ...any) (any, error) {
	var b []byte
	for _, a := range args {
		switch a := a.(type) {
		case nil:
		case string:
			b = append(b, a...)
		default:
			b = fmt.Append(b, a)
		}
	}
	return string(b), nil
}

// substring returns up to n characters of s from character start (0-based).
func substring(args ...any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("substring of %s", typeName(args[0]))
	}
	start, ok1 := args[1].(int)
	n, ok2 := args[2].(int)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("substring(%s, %s): start and length must be integers", typeName(args[1]), typeName(args[2]))
	}
	if start < 0 || n < 0 {
		return nil, fmt.Errorf("substring(%d, %d): negative start or length", start, n)
	}
	r := []rune(s)
	if start >= len(r) {
		return "", nil
	}
	return string(r[start:min(start+n, len(r))]), nil
}

// maxCachedRegexps bounds the compiled patterns kept: a pattern taken
// from row values would otherwise grow the cache with the data.
const maxCachedRegexps = 256

var (
	regexps       sync.Map // pattern → *regexp.Regexp
	regexpsCached atomic.Int32
)

// regexReplace replaces every match of a pattern (RE2 syntax, compiled
// once per pattern, for the first maxCachedRegexps patterns) in s; $1 in
// the replacement is the first group.
func regexReplace(args ...any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("regex_replace of %s", typeName(args[0]))
	}
	pattern, ok1 := args[1].(string)
	repl, ok2 := args[2].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("regex_replace(%s, %s): pattern and replacement must be text", typeName(args[1]), typeName(args[2]))
	}
	re, ok := regexps.Load(pattern)
	if !ok {
		r, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("regex_replace: %w", err)
		}
		re = r
		if regexpsCached.Load() < maxCachedRegexps {
			var loaded bool
			if re, loaded = regexps.LoadOrStore(pattern, r); !loaded {
				regexpsCached.Add(1)
			}
		}
	}
	return re.(*regexp.Regexp).ReplaceAllString(s, repl), nil
}

// coalesce returns its first non-null argument, or null.
func coalesce(args ...any) (any, error) {
	for _, a := range args {
		if a != nil {
			return a, nil
		}
	}
	return nil, nil
}

// formatTime formats an instant, or a timestamp or date in its text form
// ("2006-01-02T15:04:05.999999", "2006-01-02"), with a Go layout.
func formatTime(args ...any) (any, error) {
	layout, _ := args[1].(string)
	switch t := args[0].(type) {
	case time.Time:
		return t.Format(layout), nil
	case string:
		for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", time.DateOnly} {
			if p, err := time.Parse(l, t); err == nil {
				return p.Format(layout), nil
			}
		}
		return nil, fmt.Errorf("format_time: %q is not a timestamp or date", t)
	}
	return nil, fmt.Errorf("format_time of %s", typeName(args[0]))
}

// hmacFunc returns hmac_sha256: the hex HMAC-SHA-256 of a value's text
// form under key; nil if key is nil (no hash_key configured). Keyed
// hashes are pooled: Reset restores one's keyed state without hashing
// the key again.
func hmacFunc(key []byte) func(args ...any) (any, error) {
	pool := sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	return func(args ...any) (any, error) {
		if key == nil {
			return nil, errors.New("hmac_sha256 needs the table mapping's hash_key")
		}
		h := pool.Get().(hash.Hash)
		defer pool.Put(h)
		h.Reset()
		switch a := args[0].(type) {
		case nil:
			return nil, nil
		case string:
			io.WriteString(h, a)
		case []byte:
			h.Write(a)
		default:
			fmt.Fprint(h, a)
		}
		var sum [sha256.Size]byte
		return hex.EncodeToString(h.Sum(sum[:0])), nil
	}
}

func typeName(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
