package filter

import (
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/capture"
)

// Program is a Filter compiled against one table's column layout. It is
// immutable and safe for concurrent use.
type Program struct {
	root evaluator
}

// Compile resolves f's columns to row indexes with columnIndex, which
// returns -1 for a column the table does not have. It fails naming every
// unknown column, or if f has unbound params.
//
// columnIndex receives names as the filter spells them: bare names
// lowercased, quoted names exact.
func (f *Filter) Compile(columnIndex func(name string) int) (*Program, error) {
	if len(f.params) > 0 {
		return nil, fmt.Errorf("compile filter: unbound params :%s", strings.Join(f.params, ", :"))
	}
	index := make(map[string]int, len(f.columns))
	var unknown []string
	for _, name := range f.columns {
		i := columnIndex(name)
		if i < 0 {
			unknown = append(unknown, fmt.Sprintf("%q", name))
			continue
		}
		index[name] = i
	}
	switch len(unknown) {
	case 0:
	case 1:
		return nil, fmt.Errorf("compile filter: unknown column %s", unknown[0])
	default:
		return nil, fmt.Errorf("compile filter: unknown columns %s", strings.Join(unknown, ", "))
	}
	c := compiler{index: index, constants: map[Value]*constant{}}
	return &Program{root: c.node(f.root)}, nil
}

type compiler struct {
	index     map[string]int
	constants map[Value]*constant // shared, as they are immutable
}

func (c *compiler) node(n node) evaluator {
	switch n := n.(type) {
	case *logicNode:
		terms := make([]evaluator, len(n.terms))
		for i, t := range n.terms {
			terms[i] = c.node(t)
		}
		if n.or {
			return or(terms)
		}
		return and(terms)
	case *notNode:
		return not{x: c.node(n.x)}
	case *compareNode:
		l, r := c.value(n.l), c.value(n.r)
		switch {
		case l.c == nil && r.c != nil:
			return &compareColumn{op: n.op, col: l.col, c: r.c}
		case l.c != nil && r.c == nil:
			return &compareColumn{op: n.op.flip(), col: r.col, c: l.c}
		}
		return &compareValues{op: n.op, l: l, r: r}
	case *inNode:
		list := make([]value, len(n.list))
		for i, o := range n.list {
			list[i] = c.value(o)
		}
		return &in{not: n.not, x: c.value(n.x), list: list}
	case *nullNode:
		return &isNull{not: n.not, x: c.value(n.x)}
	case *likeNode:
		l := &like{not: n.not, x: c.value(n.x), null: n.pattern.val.kind == KindNull}
		if !l.null {
			// Parse and Bind accept only valid pattern strings.
			l.pattern, _ = compileLike(n.pattern.val.s)
		}
		return l
	case *betweenNode:
		return &between{not: n.not, x: c.value(n.x), lo: c.value(n.lo), hi: c.value(n.hi)}
	}
	panic(fmt.Sprintf("filter: unknown node %T", n))
}

func (c *compiler) value(o operand) value {
	if o.kind == operandColumn {
		return value{col: c.index[o.name]}
	}
	k := c.constants[o.val]
	if k == nil {
		k = newConstant(o.val)
		c.constants[o.val] = k
	}
	return value{col: -1, c: k}
}

// Eval evaluates the filter on row, a row of the table the program was
// compiled for, with SQL's three-valued logic. A row matches only when the
// result is True. Eval never fails and does not allocate for int64, string
// and bool comparisons with literals.
//
// Comparisons:
//   - NULL and capture.Absent compare as UNKNOWN, and Absent IS NULL is
//     UNKNOWN too: the source did not send the value.
//   - Numbers (int64, uint64, float32, float64, capture.Decimal, numeric
//     literals) compare by value across types, exactly except that a float
//     meets a decimal rounded to the nearest float64, as in PostgreSQL.
//     NaN equals NaN and is above every other number, as in PostgreSQL.
//     Decimals in exponent form do not compare (UNKNOWN).
//   - Strings (and capture.JSON, as its text) compare bytewise, so case
//     and trailing spaces matter, as with PostgreSQL's C collation; MySQL and
//     SQL Server snapshots follow the column's collation instead.
//   - Bools compare with TRUE and FALSE, and FALSE < TRUE.
//   - time.Time compares with times, and with string literals in RFC 3339,
//     "2006-01-02 15:04:05[.frac][zone]", "2006-01-02T15:04:05[.frac]" or
//     "2006-01-02" form, read as UTC when they have no zone.
//   - A string literal compared with a number is read as a decimal number.
//   - Any other pair (a string column with a number, []byte, arrays, types
//     outside capture's row contract) is UNKNOWN, where SQL would usually
//     report an error.
//
// LIKE applies to strings and JSON text; other values give UNKNOWN.
// Missing columns (row shorter than the table) are Absent.
func (p *Program) Eval(row capture.Row) Tri { return p.root.eval(row) }
