package filter

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// LIKE patterns: % matches any run of characters, _ matches one character,
// and a backslash makes the next character match itself. A pattern may not
// end with a lone backslash. Matching is by bytes and characters, case
// sensitive, as PostgreSQL's LIKE with the C collation.

var errTrailingEscape = errors.New(`LIKE pattern must not end with the escape character \`)

// checkPattern reports whether p is a valid LIKE pattern.
func checkPattern(p string) error {
	_, err := compileLike(p)
	return err
}

type likeKind uint8

const (
	likeLiteral likeKind = iota // match lit exactly
	likeOne                     // _: match one character
	likeAny                     // %: match any run of characters
)

type likeElem struct {
	kind likeKind
	lit  string
}

// likePattern is a compiled LIKE pattern. Adjacent literal characters are
// merged into one element and runs of % into one.
type likePattern []likeElem

func compileLike(p string) (likePattern, error) {
	var (
		out likePattern
		lit strings.Builder
	)
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, likeElem{kind: likeLiteral, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			if i++; i == len(p) {
				return nil, errTrailingEscape
			}
			_, n := utf8.DecodeRuneInString(p[i:])
			lit.WriteString(p[i : i+n])
			i += n - 1
		case '%':
			flush()
			if len(out) == 0 || out[len(out)-1].kind != likeAny {
				out = append(out, likeElem{kind: likeAny})
			}
		case '_':
			flush()
			out = append(out, likeElem{kind: likeOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out, nil
}

// match reports whether s matches the whole pattern. It backtracks only to
// the last %, so it runs in O(len(s) × len(p)) time without recursion.
func (p likePattern) match(s string) bool {
	pi, si := 0, 0
	star, starS := -1, 0 // the last % seen, and where its match ends
	for si < len(s) {
		if pi < len(p) {
			switch e := p[pi]; e.kind {
			case likeAny:
				star, starS = pi, si
				pi++
				continue
			case likeOne:
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			case likeLiteral:
				if strings.HasPrefix(s[si:], e.lit) {
					si += len(e.lit)
					pi++
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		// Let the last % swallow one more character and retry after it.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = star+1, starS
	}
	for pi < len(p) && p[pi].kind == likeAny {
		pi++
	}
	return pi == len(p)
}

// sqlServerPattern rewrites a valid pattern for SQL Server's LIKE with
// ESCAPE '\': there an unescaped [ opens a character class, so it is
// escaped to keep its literal meaning.
func sqlServerPattern(p string) string {
	if !strings.Contains(p, "[") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			b.WriteString(p[i : i+2])
			i++
			continue
		case '[':
			b.WriteByte('\\')
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
