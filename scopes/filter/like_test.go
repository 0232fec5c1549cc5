package filter

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestLikeMatchesRegexp checks the matcher against regexp on random
// patterns and strings over a small alphabet.
func TestLikeMatchesRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "b", "é", "%", "_", `\`}
	for range 20000 {
		var p strings.Builder
		for n := rng.IntN(7); n > 0; n-- {
			p.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		var s strings.Builder
		for n := rng.IntN(8); n > 0; n-- {
			s.WriteString(alphabet[rng.IntN(3)])
		}
		pattern, err := compileLike(p.String())
		re := likeRegexp(p.String())
		if (err != nil) != (re == nil) {
			t.Fatalf("compileLike(%q) error = %v, reference disagrees", p.String(), err)
		}
		if err != nil {
			continue
		}
		if got, want := pattern.match(s.String()), re.MatchString(s.String()); got != want {
			t.Fatalf("%q LIKE %q = %v, want %v", s.String(), p.String(), got, want)
		}
	}
}

func likeRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i++; i == len(p) {
				return nil
			}
			r := []rune(p[i:])[0]
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += len(string(r)) - 1
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

func TestSQLServerPattern(t *testing.T) {
	tests := map[string]string{
		"abc":    "abc",
		"[a]":    `\[a]`,
		`\[a`:    `\[a`,
		`x\\[y`:  `x\\\[y`,
		`%[_]é[`: `%\[_]é\[`,
		`\é[`:    `\é\[`,
	}
	for in, want := range tests {
		if got := sqlServerPattern(in); got != want {
			t.Errorf("sqlServerPattern(%q) = %q, want %q", in, got, want)
		}
	}
}
