package router

import (
	"errors"
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/capture"
)

// SubjectPrefix is the first token of every subject syncd publishes.
const SubjectPrefix = "syncd"

// Reserved subject tokens, published as syncd.<scope>.<token>.
const (
	TokenBatch = "_batch" // atomic batch commit markers; never stored
	TokenDLQ   = "_dlq"   // rows an apply worker parked
	// TokenConflict: conflicts the apply workers of two-way scopes met.
	TokenConflict = "_conflict"
)

// Subject returns syncd.<scope>.<source>.<schema>.<table>.<op> with schema
// and table escaped by EscapeToken. Scope and source names are validated by
// the config loader to be safe tokens.
func Subject(scope, source string, table capture.TableID, op capture.Op) string {
	var b strings.Builder
	b.Grow(len(SubjectPrefix) + len(scope) + len(source) + len(table.Schema) + len(table.Name) + 6)
	b.WriteString(SubjectPrefix)
	b.WriteByte('.')
	b.WriteString(scope)
	b.WriteByte('.')
	b.WriteString(source)
	b.WriteByte('.')
	b.WriteString(EscapeToken(table.Schema))
	b.WriteByte('.')
	b.WriteString(EscapeToken(table.Name))
	b.WriteByte('.')
	b.WriteByte(byte(op))
	return b.String()
}

// SourceSubjects returns the subject filter of a scope's row changes from
// one source.
func SourceSubjects(scope, source string) string {
	return SubjectPrefix + "." + scope + "." + source + ".>"
}

// ReservedSubject returns syncd.<scope>.<token>.
func ReservedSubject(scope, token string) string { return SubjectPrefix + "." + scope + "." + token }

// SubjectParts is a parsed row-change subject.
type SubjectParts struct {
	Scope, Source string
	Table         capture.TableID
	Op            capture.Op
}

// ParseSubject splits a row-change subject and unescapes its tokens.
func ParseSubject(subject string) (SubjectParts, error) {
	t := strings.Split(subject, ".")
	if len(t) != 6 || t[0] != SubjectPrefix || len(t[5]) != 1 {
		return SubjectParts{}, fmt.Errorf("parse subject %q: want syncd.<scope>.<source>.<schema>.<table>.<op>", subject)
	}
	schema, err := UnescapeToken(t[3])
	if err != nil {
		return SubjectParts{}, fmt.Errorf("parse subject %q: %w", subject, err)
	}
	table, err := UnescapeToken(t[4])
	if err != nil {
		return SubjectParts{}, fmt.Errorf("parse subject %q: %w", subject, err)
	}
	return SubjectParts{Scope: t[1], Source: t[2], Table: capture.TableID{Schema: schema, Name: table}, Op: capture.Op(t[5][0])}, nil
}

// StreamName returns the JetStream stream of a scope: SYNCD_<SCOPE>.
// Scope names are lowercase by validation, so the name maps back.
func StreamName(scope string) string { return "SYNCD_" + strings.ToUpper(scope) }

// EscapeToken makes s usable as one subject token: '%', '.', '*', '>',
// whitespace and control bytes become %XX, and a leading '_' (reserved
// tokens) becomes %5F. UnescapeToken reverses it.
func EscapeToken(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unsafeByte(c) || (i == 0 && c == '_') {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsEscape(s string) bool {
	if s == "" || s[0] == '_' {
		return true
	}
	for i := 0; i < len(s); i++ {
		if unsafeByte(s[i]) {
			return true
		}
	}
	return false
}

func unsafeByte(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '%' || c == '.' || c == '*' || c == '>'
}

var errBadEscape = errors.New("bad %XX escape")

// UnescapeToken reverses EscapeToken.
func UnescapeToken(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errBadEscape
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", errBadEscape
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}
