package filter

import "strings"

// writer prints a tree as canonical filter text (dialect 0) or as SQL.
type writer struct {
	b       strings.Builder
	dialect Dialect
	args    []any
}

// place is where a node is written: it decides the parentheses.
type place uint8

const (
	inTop place = iota
	inNot
	inLogic // as a term of AND or OR
)

// node writes n. Canonical text has only the parentheses the structure
// needs, so that it never nests deeper than the text it was parsed from;
// SQL text has them around every nested group and NOT's operand.
func (w *writer) node(n node, at place) {
	sql := w.dialect != 0
	switch n := n.(type) {
	case *logicNode:
		// A logic node's terms are never logic nodes of the same op, and
		// AND binds tighter than OR.
		paren := at == inNot || at == inLogic && (sql || n.or)
		if paren {
			w.b.WriteByte('(')
		}
		sep := " AND "
		if n.or {
			sep = " OR "
		}
		for i, t := range n.terms {
			if i > 0 {
				w.b.WriteString(sep)
			}
			w.node(t, inLogic)
		}
		if paren {
			w.b.WriteByte(')')
		}
	case *notNode:
		w.b.WriteString("NOT ")
		if _, isLogic := n.x.(*logicNode); sql && !isLogic {
			w.b.WriteByte('(')
			w.node(n.x, inNot)
			w.b.WriteByte(')')
		} else {
			w.node(n.x, inNot)
		}
	case *compareNode:
		w.operand(n.l)
		w.b.WriteString(" " + n.op.String() + " ")
		w.operand(n.r)
	case *inNode:
		w.operand(n.x)
		w.not(n.not)
		w.b.WriteString("IN (")
		for i, o := range n.list {
			if i > 0 {
				w.b.WriteString(", ")
			}
			w.operand(o)
		}
		w.b.WriteByte(')')
	case *nullNode:
		w.operand(n.x)
		w.b.WriteString(" IS ")
		if n.not {
			w.b.WriteString("NOT ")
		}
		w.b.WriteString("NULL")
	case *likeNode:
		w.like(n)
	case *betweenNode:
		w.operand(n.x)
		w.not(n.not)
		w.b.WriteString("BETWEEN ")
		w.operand(n.lo)
		w.b.WriteString(" AND ")
		w.operand(n.hi)
	}
}

// not writes the space before a predicate keyword, with NOT if not.
func (w *writer) not(not bool) {
	if not {
		w.b.WriteString(" NOT ")
	} else {
		w.b.WriteByte(' ')
	}
}

func (w *writer) like(n *likeNode) {
	w.operand(n.x)
	w.not(n.not)
	w.b.WriteString("LIKE ")
	pat := n.pattern
	switch w.dialect {
	case SQLServer:
		if pat.val.kind == KindString {
			pat.val.s = sqlServerPattern(pat.val.s)
		}
		w.operand(pat)
		w.b.WriteString(` ESCAPE '\'`)
	case MySQL:
		w.operand(pat)
		w.b.WriteString(" ESCAPE ")
		w.operand(literal(String(`\`)))
	default:
		w.operand(pat)
	}
}

func (w *writer) operand(o operand) {
	switch {
	case o.kind == operandParam:
		w.b.WriteString(":" + o.name)
	case o.kind == operandColumn && w.dialect != 0:
		w.b.WriteString(w.dialect.QuoteIdent(o.name))
	case o.kind == operandColumn && isBareColumn(o.name):
		w.b.WriteString(o.name)
	case o.kind == operandColumn:
		w.b.WriteString(quote(o.name, '"'))
	case w.dialect != 0:
		w.args = append(w.args, o.val.arg())
		w.b.WriteString(w.dialect.Placeholder(len(w.args)))
	default:
		w.b.WriteString(o.val.String())
	}
}
