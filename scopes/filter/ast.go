package filter

// The syntax tree. Nodes carry no source positions, so two parses of
// equivalent text give trees that reflect.DeepEqual reports equal. Trees
// are never modified after parsing; Bind builds a new one.

// node is a predicate: it evaluates to a Tri.
type node interface{ predicate() }

// logicNode is AND or OR over two or more terms. The parser flattens
// nested terms of the same op, so a term is never a logicNode with the
// same op.
type logicNode struct {
	or    bool
	terms []node
}

// notNode is NOT x.
type notNode struct{ x node }

// compareNode is l op r.
type compareNode struct {
	op   cmpOp
	l, r operand
}

// inNode is x [NOT] IN (list...).
type inNode struct {
	not  bool
	x    operand
	list []operand
}

// nullNode is x IS [NOT] NULL.
type nullNode struct {
	not bool
	x   operand
}

// likeNode is x [NOT] LIKE pattern. The pattern is a string literal, NULL,
// or a param that Bind only replaces with one of those.
type likeNode struct {
	not     bool
	x       operand
	pattern operand
}

// betweenNode is x [NOT] BETWEEN lo AND hi.
type betweenNode struct {
	not       bool
	x, lo, hi operand
}

func (*logicNode) predicate()   {}
func (*notNode) predicate()     {}
func (*compareNode) predicate() {}
func (*inNode) predicate()      {}
func (*nullNode) predicate()    {}
func (*likeNode) predicate()    {}
func (*betweenNode) predicate() {}

type operandKind uint8

const (
	operandLiteral operandKind = iota
	operandColumn
	operandParam
)

// operand is a value in a predicate: a literal, a column or a :param.
type operand struct {
	kind operandKind
	name string // column or param name
	val  Value  // literal value
}

func literal(v Value) operand { return operand{kind: operandLiteral, val: v} }

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

var cmpOpText = [...]string{"=", "<>", "<", "<=", ">", ">="}

func (op cmpOp) String() string { return cmpOpText[op] }

// flip returns the operator that gives the same result with the operands
// swapped: a < b is b > a.
func (op cmpOp) flip() cmpOp {
	switch op {
	case opLt:
		return opGt
	case opLe:
		return opGe
	case opGt:
		return opLt
	case opGe:
		return opLe
	}
	return op
}

// result turns the outcome of a three-way comparison into the truth of op.
func (op cmpOp) result(c int) Tri {
	var ok bool
	switch op {
	case opEq:
		ok = c == 0
	case opNe:
		ok = c != 0
	case opLt:
		ok = c < 0
	case opLe:
		ok = c <= 0
	case opGt:
		ok = c > 0
	case opGe:
		ok = c >= 0
	}
	return triOf(ok)
}

// walk calls f for n and every predicate under it, parents first.
func walk(n node, f func(node)) {
	f(n)
	switch n := n.(type) {
	case *logicNode:
		for _, t := range n.terms {
			walk(t, f)
		}
	case *notNode:
		walk(n.x, f)
	}
}

// operands calls f for every operand in n, in source order.
func operands(n node, f func(*operand)) {
	walk(n, func(n node) {
		switch n := n.(type) {
		case *compareNode:
			f(&n.l)
			f(&n.r)
		case *inNode:
			f(&n.x)
			for i := range n.list {
				f(&n.list[i])
			}
		case *nullNode:
			f(&n.x)
		case *likeNode:
			f(&n.x)
			f(&n.pattern)
		case *betweenNode:
			f(&n.x)
			f(&n.lo)
			f(&n.hi)
		}
	})
}

// clone returns a deep copy of n, so that operands may be changed in place.
func clone(n node) node {
	switch n := n.(type) {
	case *logicNode:
		c := &logicNode{or: n.or, terms: make([]node, len(n.terms))}
		for i, t := range n.terms {
			c.terms[i] = clone(t)
		}
		return c
	case *notNode:
		return &notNode{x: clone(n.x)}
	case *compareNode:
		c := *n
		return &c
	case *inNode:
		c := *n
		c.list = append([]operand(nil), n.list...)
		return &c
	case *nullNode:
		c := *n
		return &c
	case *likeNode:
		c := *n
		return &c
	case *betweenNode:
		c := *n
		return &c
	}
	panic("filter: unknown node type")
}
