package mapping

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Expr is a parsed expression: its source text and the identifiers it
// reads, which name source columns.
type Expr struct {
	Source string
	Refs   []string // distinct, in order of first use
}

// SyntaxError is an expression that does not parse or calls an unknown
// function, at a character (rune) offset of its source.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at character %d: %s", e.Pos+1, e.Msg) }

// Offset returns the error's byte offset in src.
func (e *SyntaxError) Offset(src string) int {
	i := 0
	for off := range src {
		if i == e.Pos {
			return off
		}
		i++
	}
	return len(src)
}

// Parse parses an expression and checks the functions it calls, without
// knowing the source's columns (every identifier not called is taken for
// one).
func Parse(src string) (*Expr, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, syntaxError(err)
	}
	v := &refVisitor{}
	ast.Walk(&tree.Node, v)
	if v.err != nil {
		return nil, v.err
	}
	e := &Expr{Source: src, Refs: v.refs()}
	// Every column reference has a type known only when it runs: this
	// checks the calls' names and counts, not their types.
	if _, err := expr.Compile(src, options(map[string]any{}, []byte{})...); err != nil {
		return nil, syntaxError(err)
	}
	return e, nil
}

func syntaxError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return &SyntaxError{Pos: fe.From, Msg: fe.Message}
	}
	return &SyntaxError{Msg: err.Error()}
}

// refVisitor collects the identifiers an expression reads, leaving out
// the names of functions it calls. Walk visits a call's callee before the
// call, so refs sorts them out once the walk is done.
type refVisitor struct {
	idents  []*ast.IdentifierNode
	callees map[ast.Node]bool
	err     error // the first call of an unknown function
}

func (v *refVisitor) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.CallNode:
		if v.callees == nil {
			v.callees = map[ast.Node]bool{}
		}
		v.callees[n.Callee] = true
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && !slices.Contains(functionNames, id.Value) && v.err == nil {
			v.err = &SyntaxError{Pos: n.Location().From, Msg: "unknown function " + id.Value}
		}
	case *ast.BuiltinNode:
		if slices.Contains(disabledBuiltins, n.Name) && v.err == nil {
			v.err = &SyntaxError{Pos: n.Location().From, Msg: "unknown function " + n.Name}
		}
	case *ast.IdentifierNode:
		v.idents = append(v.idents, n)
	}
}

func (v *refVisitor) refs() []string {
	var refs []string
	for _, id := range v.idents {
		if !v.callees[id] && !slices.Contains(refs, id.Value) {
			refs = append(refs, id.Value)
		}
	}
	return refs
}

// compile compiles e with each of its references typed by env and returns
// the program and its result type (nil: not known before it runs).
func compile(e *Expr, env map[string]any, key []byte) (*vm.Program, reflect.Type, error) {
	p, err := expr.Compile(e.Source, options(env, key)...) // references of unknown type are left out of env
	if err != nil {
		return nil, nil, syntaxError(err)
	}
	t := p.Node().Type()
	if t != nil && t.Kind() == reflect.Interface {
		t = nil
	}
	return p, t, nil
}
