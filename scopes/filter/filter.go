// Package filter is the row-filter language of scopes: a small subset of
// SQL WHERE expressions.
//
// One parsed Filter serves three uses: its canonical text (String) goes into
// scope definitions and their hashes; a compiled Program evaluates it in Go
// on captured rows; SQL renders it for snapshot queries in each dialect.
//
// The language:
//
//	comparisons     a = 1, a <> 1 (or !=), <, <=, >, >=
//	logic           AND, OR, NOT, parentheses
//	sets            a IN (1, 2), a NOT IN ('x', 'y')
//	nulls           a IS NULL, a IS NOT NULL
//	patterns        a LIKE 'x%', a NOT LIKE 'x\_%' (% any run, _ one
//	                character, \ takes the next character literally)
//	ranges          a BETWEEN 1 AND 9, a NOT BETWEEN 1 AND 9 (inclusive)
//	literals        42, -7, 0.5, 'it''s', TRUE, FALSE, NULL
//	columns         price (bare names are lowercased, as PostgreSQL does),
//	                "Price" (quoted names are exact)
//	params          :state, replaced by a literal with Bind
//
// Keywords are case-insensitive and reserved: quote a column named like one.
// Param names are case-sensitive.
package filter

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits on what Parse accepts, so that hostile text cannot exhaust the
// stack or memory. String of an accepted Filter is always accepted too.
const (
	// MaxDepth is the deepest nesting of NOT and parentheses.
	MaxDepth = 100
	// MaxTokens is the most tokens a filter may have.
	MaxTokens = 10000
	// MaxLength is the most bytes of tokens a filter may have; whitespace
	// between tokens is not counted.
	MaxLength = 64 << 10
)

// SyntaxError reports text that is not a valid filter.
type SyntaxError struct {
	Offset int    // byte offset in the source of the offending token
	Msg    string // what is wrong, in lower case
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

func syntaxErrorf(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Filter is a parsed row filter. It is immutable and safe for concurrent
// use.
type Filter struct {
	root    node
	params  []string
	columns []string
}

// Parse parses a filter. Errors are *SyntaxError.
func Parse(src string) (*Filter, error) {
	if !utf8.ValidString(src) {
		i := 0
		for i < len(src) {
			r, n := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return nil, syntaxErrorf(i, "invalid UTF-8")
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := parser{toks: toks}
	root, err := p.parseFilter()
	if err != nil {
		return nil, err
	}
	return newFilter(root), nil
}

func newFilter(root node) *Filter {
	f := &Filter{root: root}
	operands(root, func(o *operand) {
		switch o.kind {
		case operandColumn:
			f.columns = append(f.columns, o.name)
		case operandParam:
			f.params = append(f.params, o.name)
		}
	})
	slices.Sort(f.columns)
	f.columns = slices.Compact(f.columns)
	slices.Sort(f.params)
	f.params = slices.Compact(f.params)
	return f
}

// Params returns the names of the params f uses, without ':', sorted and
// unique.
func (f *Filter) Params() []string { return slices.Clone(f.params) }

// Columns returns the names of the columns f references, sorted and unique.
func (f *Filter) Columns() []string { return slices.Clone(f.columns) }

// String returns f's canonical text. Parsing it gives a Filter equal to f,
// and equivalent sources give the same text: keywords in upper case, single
// spaces, numbers without redundant zeros, columns quoted only when needed,
// only the parentheses the structure requires, != written <>.
func (f *Filter) String() string {
	var w writer
	w.node(f.root, inTop)
	return w.b.String()
}

// Bind returns f with every :param replaced by its value in params. Extra
// entries in params are ignored. It fails if a param f uses has no value,
// if a string value is not valid UTF-8, or if a LIKE pattern param's value
// is not a valid pattern string or NULL.
// A Filter without params is returned as is.
func (f *Filter) Bind(params map[string]Value) (*Filter, error) {
	if len(f.params) == 0 {
		return f, nil
	}
	var missing []string
	for _, name := range f.params {
		v, ok := params[name]
		switch {
		case !ok:
			missing = append(missing, ":"+name)
		case v.kind == KindString && !utf8.ValidString(v.s):
			return nil, fmt.Errorf("bind filter: param :%s: string is not valid UTF-8", name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("bind filter: no value for %s", strings.Join(missing, ", "))
	}
	if err := checkPatternParams(f.root, params); err != nil {
		return nil, fmt.Errorf("bind filter: %w", err)
	}
	root := clone(f.root)
	operands(root, func(o *operand) {
		if o.kind == operandParam {
			*o = literal(params[o.name])
		}
	})
	return newFilter(root), nil
}

// checkPatternParams checks that the params used as LIKE patterns in n have
// a valid pattern string or NULL as their value.
func checkPatternParams(n node, params map[string]Value) error {
	var err error
	walk(n, func(n node) {
		like, ok := n.(*likeNode)
		if !ok || like.pattern.kind != operandParam || err != nil {
			return
		}
		name := like.pattern.name
		switch v := params[name]; v.kind {
		case KindNull:
		case KindString:
			if perr := checkPattern(v.s); perr != nil {
				err = fmt.Errorf("param :%s: %w", name, perr)
			}
		default:
			err = fmt.Errorf("param :%s is a LIKE pattern and must be a string, not %s %s", name, v.kind, v)
		}
	})
	return err
}
