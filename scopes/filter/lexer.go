package filter

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokIdent            // bare identifier or keyword; text lowercased
	tokQuoted           // "quoted identifier"; text without quotes
	tokParam            // :name; text is the name
	tokString           // 'string'; text without quotes
	tokNumber           // digits with an optional fraction; text as written
	tokOp               // comparison operator
	tokMinus            // -
	tokLParen           // (
	tokRParen           // )
	tokComma            // ,
)

// token is one lexical element of a filter. off is its byte offset in the
// source.
type token struct {
	kind tokenKind
	op   cmpOp // tokOp
	text string
	off  int
}

// keyword reports whether t is the bare (unquoted) keyword kw, given in
// lower case.
func (t token) keyword(kw string) bool {
	return t.kind == tokIdent && t.text == kw
}

// isKeyword reports whether the lowercased bare word s is reserved.
func isKeyword(s string) bool {
	switch s {
	case "and", "or", "not", "in", "is", "null", "like", "between", "true", "false":
		return true
	}
	return false
}

// describe names t for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of filter"
	case tokIdent:
		if isKeyword(t.text) {
			return strings.ToUpper(t.text)
		}
		return "column " + t.text
	case tokQuoted:
		return "column " + quote(t.text, '"')
	case tokParam:
		return ":" + t.text
	case tokString:
		return "string " + quote(t.text, '\'')
	case tokNumber:
		return "number " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits src into tokens, ending with a tokEOF at len(src). It enforces
// MaxTokens and MaxLength.
func lex(src string) ([]token, error) {
	var toks []token
	size := 0
	for i := 0; ; {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i == len(src) {
			return append(toks, token{kind: tokEOF, off: i}), nil
		}
		if len(toks) == MaxTokens {
			return nil, syntaxErrorf(i, "filter has more than %d tokens", MaxTokens)
		}
		t, end, err := lexToken(src, i)
		if err != nil {
			return nil, err
		}
		if size += end - i; size > MaxLength {
			return nil, syntaxErrorf(i, "filter is longer than %d bytes", MaxLength)
		}
		toks = append(toks, t)
		i = end
	}
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}

// lexToken reads the token starting at src[i] and returns it with the
// offset just past it.
func lexToken(src string, i int) (token, int, error) {
	c := src[i]
	switch c {
	case '(':
		return token{kind: tokLParen, text: "(", off: i}, i + 1, nil
	case ')':
		return token{kind: tokRParen, text: ")", off: i}, i + 1, nil
	case ',':
		return token{kind: tokComma, text: ",", off: i}, i + 1, nil
	case '-':
		return token{kind: tokMinus, text: "-", off: i}, i + 1, nil
	case '=':
		return token{kind: tokOp, op: opEq, text: "=", off: i}, i + 1, nil
	case '<', '>', '!':
		return lexOperator(src, i)
	case '\'':
		return lexQuoted(src, i, tokString)
	case '"':
		return lexQuoted(src, i, tokQuoted)
	case ':':
		return lexParam(src, i)
	}
	if c >= '0' && c <= '9' {
		return lexNumber(src, i)
	}
	r, n := utf8.DecodeRuneInString(src[i:])
	if !isIdentStart(r) {
		return token{}, 0, syntaxErrorf(i, "unexpected character %q", r)
	}
	return lexIdent(src, i, n)
}

func lexOperator(src string, i int) (token, int, error) {
	two := ""
	if i+1 < len(src) {
		two = src[i : i+2]
	}
	var op cmpOp
	switch two {
	case "<=":
		op = opLe
	case ">=":
		op = opGe
	case "<>", "!=":
		op = opNe
	default:
		switch src[i] {
		case '<':
			return token{kind: tokOp, op: opLt, text: "<", off: i}, i + 1, nil
		case '>':
			return token{kind: tokOp, op: opGt, text: ">", off: i}, i + 1, nil
		}
		return token{}, 0, syntaxErrorf(i, `unexpected character '!'; use NOT, or != for "not equal"`)
	}
	return token{kind: tokOp, op: op, text: two, off: i}, i + 2, nil
}

// lexQuoted reads a 'string' or a "quoted identifier": the quote character
// doubled stands for itself.
func lexQuoted(src string, i int, kind tokenKind) (token, int, error) {
	q := src[i]
	var b strings.Builder
	start := i + 1
	for j := start; j < len(src); j++ {
		if src[j] != q {
			continue
		}
		b.WriteString(src[start:j])
		if j+1 < len(src) && src[j+1] == q {
			b.WriteByte(q)
			j++
			start = j + 1
			continue
		}
		if kind == tokQuoted && b.Len() == 0 {
			return token{}, 0, syntaxErrorf(i, "empty quoted column name")
		}
		return token{kind: kind, text: b.String(), off: i}, j + 1, nil
	}
	if kind == tokQuoted {
		return token{}, 0, syntaxErrorf(i, "unterminated quoted column name")
	}
	return token{}, 0, syntaxErrorf(i, "unterminated string")
}

func lexParam(src string, i int) (token, int, error) {
	j := i + 1
	if j < len(src) && src[j] == ':' {
		return token{}, 0, syntaxErrorf(i, "casts (::) are not supported")
	}
	for j < len(src) && isParamChar(src[j], j == i+1) {
		j++
	}
	if j == i+1 {
		return token{}, 0, syntaxErrorf(i, "expected a param name after ':'")
	}
	return token{kind: tokParam, text: src[i+1 : j], off: i}, j, nil
}

// IsParamName reports whether s may follow ':' as a param name: an ASCII
// letter or underscore, then ASCII letters, digits and underscores.
func IsParamName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isParamChar(s[i], i == 0) {
			return false
		}
	}
	return s != ""
}

func isParamChar(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// lexNumber reads digits with an optional fraction. A sign is a separate
// token; exponents are not supported.
func lexNumber(src string, i int) (token, int, error) {
	j := skipDigits(src, i)
	if j < len(src) && src[j] == '.' {
		k := skipDigits(src, j+1)
		if k == j+1 {
			return token{}, 0, syntaxErrorf(i, "invalid number: expected a digit after '.'")
		}
		j = k
	}
	if j < len(src) {
		if r, _ := utf8.DecodeRuneInString(src[j:]); r == '.' || isIdentChar(r) {
			return token{}, 0, syntaxErrorf(i, "invalid number %q", src[i:j]+string(r))
		}
	}
	return token{kind: tokNumber, text: src[i:j], off: i}, j, nil
}

func skipDigits(src string, i int) int {
	for i < len(src) && '0' <= src[i] && src[i] <= '9' {
		i++
	}
	return i
}

// lexIdent reads a bare identifier whose first rune is n bytes long and
// lowercases its ASCII letters, as PostgreSQL does.
func lexIdent(src string, i, n int) (token, int, error) {
	j := i + n
	for j < len(src) {
		r, n := utf8.DecodeRuneInString(src[j:])
		if !isIdentChar(r) {
			break
		}
		j += n
	}
	return token{kind: tokIdent, text: lowerASCII(src[i:j]), off: i}, j, nil
}

func isIdentStart(r rune) bool {
	return r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r >= utf8.RuneSelf && unicode.IsLetter(r)
}

func isIdentChar(r rune) bool {
	return isIdentStart(r) || '0' <= r && r <= '9' || r == '$'
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.Map(func(r rune) rune {
				if 'A' <= r && r <= 'Z' {
					return r + 'a' - 'A'
				}
				return r
			}, s)
		}
	}
	return s
}

// isBareColumn reports whether name can be written without quotes: it lexes
// as one bare identifier, is already lower case and is not a keyword.
func isBareColumn(name string) bool {
	r, n := utf8.DecodeRuneInString(name)
	if !isIdentStart(r) || isKeyword(name) || lowerASCII(name) != name {
		return false
	}
	for _, r := range name[n:] {
		if !isIdentChar(r) {
			return false
		}
	}
	return true
}
