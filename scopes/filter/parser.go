package filter

import "strings"

// The grammar, lowest precedence first:
//
//	filter    = or EOF
//	or        = and { OR and }
//	and       = not { AND not }
//	not       = NOT not | "(" or ")" | predicate
//	predicate = operand ( cmpop operand
//	                    | [NOT] IN "(" operand { "," operand } ")"
//	                    | IS [NOT] NULL
//	                    | [NOT] LIKE ( string | NULL | param )
//	                    | [NOT] BETWEEN operand AND operand )
//	operand   = column | param | literal
//	literal   = [ "-" ] number | string | TRUE | FALSE | NULL
//
// Recursion happens only at NOT and "(", and each counts one level against
// MaxDepth, so the canonical text (which has no more of either than the
// source) parses within the same limits.

type parser struct {
	toks  []token
	pos   int
	depth int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

// accept consumes the next token if it is the bare keyword kw.
func (p *parser) accept(kw string) bool {
	if p.peek().keyword(kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(kind tokenKind, what string) error {
	if t := p.next(); t.kind != kind {
		return unexpected(t, what)
	}
	return nil
}

func (p *parser) expectKeyword(kw string) error {
	if t := p.next(); !t.keyword(kw) {
		return unexpected(t, strings.ToUpper(kw))
	}
	return nil
}

func unexpected(t token, want string) error {
	return syntaxErrorf(t.off, "expected %s, found %s", want, t.describe())
}

func (p *parser) parseFilter() (node, error) {
	if p.peek().kind == tokEOF {
		return nil, syntaxErrorf(p.peek().off, "empty filter")
	}
	n, err := p.parseLogic(true)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, unexpected(t, "AND, OR or end of filter")
	}
	return n, nil
}

// parseLogic parses terms joined by OR (or true) or AND (or false).
func (p *parser) parseLogic(or bool) (node, error) {
	kw, parseTerm := "and", p.parseNot
	if or {
		kw, parseTerm = "or", func() (node, error) { return p.parseLogic(false) }
	}
	first, err := parseTerm()
	if err != nil || !p.peek().keyword(kw) {
		return first, err
	}
	ln := &logicNode{or: or}
	ln.add(first)
	for p.accept(kw) {
		t, err := parseTerm()
		if err != nil {
			return nil, err
		}
		ln.add(t)
	}
	return ln, nil
}

// add appends t to ln's terms, splicing in the terms of a parenthesized
// group with the same op: a AND (b AND c) is a AND b AND c.
func (ln *logicNode) add(t node) {
	if sub, ok := t.(*logicNode); ok && sub.or == ln.or {
		ln.terms = append(ln.terms, sub.terms...)
		return
	}
	ln.terms = append(ln.terms, t)
}

func (p *parser) enter(t token) error {
	if p.depth++; p.depth > MaxDepth {
		return syntaxErrorf(t.off, "filter nests deeper than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) parseNot() (node, error) {
	t := p.peek()
	switch {
	case t.keyword("not"):
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.pos++
		x, err := p.parseNot()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &notNode{x: x}, nil
	case t.kind == tokLParen:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.pos++
		x, err := p.parseLogic(true)
		p.depth--
		if err != nil {
			return nil, err
		}
		if err := p.expect(tokRParen, "AND, OR or ')'"); err != nil {
			return nil, err
		}
		return x, nil
	}
	return p.parsePredicate()
}

func (p *parser) parsePredicate() (node, error) {
	x, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	t := p.next()
	if t.kind == tokOp {
		y, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		return &compareNode{op: t.op, l: x, r: y}, nil
	}
	if t.keyword("is") {
		not := p.accept("not")
		if err := p.expectKeyword("null"); err != nil {
			return nil, err
		}
		return &nullNode{not: not, x: x}, nil
	}
	not := t.keyword("not")
	if not {
		t = p.next()
	}
	switch {
	case t.keyword("in"):
		list, err := p.parseList()
		if err != nil {
			return nil, err
		}
		return &inNode{not: not, x: x, list: list}, nil
	case t.keyword("like"):
		pat, err := p.parsePattern()
		if err != nil {
			return nil, err
		}
		return &likeNode{not: not, x: x, pattern: pat}, nil
	case t.keyword("between"):
		lo, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		if err := p.expectKeyword("and"); err != nil {
			return nil, err
		}
		hi, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		return &betweenNode{not: not, x: x, lo: lo, hi: hi}, nil
	case not:
		return nil, unexpected(t, "IN, LIKE or BETWEEN after NOT")
	}
	return nil, unexpected(t, "a comparison (=, <>, <, <=, >, >=, IN, IS, LIKE, BETWEEN)")
}

func (p *parser) parseList() ([]operand, error) {
	if err := p.expect(tokLParen, "'(' after IN"); err != nil {
		return nil, err
	}
	var list []operand
	for {
		o, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		list = append(list, o)
		switch t := p.next(); t.kind {
		case tokRParen:
			return list, nil
		case tokComma:
		default:
			return nil, unexpected(t, "',' or ')'")
		}
	}
}

// parsePattern parses a LIKE pattern: a valid string literal, NULL or a
// param.
func (p *parser) parsePattern() (operand, error) {
	t := p.peek()
	switch {
	case t.kind == tokString:
		if err := checkPattern(t.text); err != nil {
			return operand{}, syntaxErrorf(t.off, "%v", err)
		}
	case t.kind == tokParam, t.keyword("null"):
	default:
		return operand{}, unexpected(t, "a string, NULL or :param as LIKE pattern")
	}
	return p.parseOperand()
}

func (p *parser) parseOperand() (operand, error) {
	t := p.next()
	switch t.kind {
	case tokIdent:
		switch t.text {
		case "null":
			return literal(Null()), nil
		case "true":
			return literal(Bool(true)), nil
		case "false":
			return literal(Bool(false)), nil
		}
		if isKeyword(t.text) {
			return operand{}, unexpected(t, "a column, :param or value")
		}
		return operand{kind: operandColumn, name: t.text}, nil
	case tokQuoted:
		return operand{kind: operandColumn, name: t.text}, nil
	case tokParam:
		return operand{kind: operandParam, name: t.text}, nil
	case tokString:
		return literal(String(t.text)), nil
	case tokNumber:
		return numberLiteral(t.text, t.off)
	case tokMinus:
		n := p.next()
		if n.kind != tokNumber {
			return operand{}, unexpected(n, "a number after '-'")
		}
		return numberLiteral("-"+n.text, t.off)
	}
	return operand{}, unexpected(t, "a column, :param or value")
}

func numberLiteral(text string, off int) (operand, error) {
	v, err := Number(text)
	if err != nil {
		return operand{}, syntaxErrorf(off, "invalid number %q", text)
	}
	return literal(v), nil
}
