package filter

import (
	"cmp"
	"strings"

	"github.com/syncd-dev/syncd/capture"
)

// Tri is a truth value of SQL's three-valued logic.
type Tri uint8

// Truth values. A row belongs to a scope only when its filter is True.
const (
	False Tri = iota
	True
	Unknown
)

func (t Tri) String() string {
	switch t {
	case False:
		return "FALSE"
	case True:
		return "TRUE"
	}
	return "UNKNOWN"
}

func triOf(b bool) Tri {
	if b {
		return True
	}
	return False
}

// not negates t; NOT UNKNOWN is UNKNOWN.
func (t Tri) not() Tri {
	switch t {
	case True:
		return False
	case False:
		return True
	}
	return Unknown
}

// evaluator is a compiled predicate.
type evaluator interface {
	eval(row capture.Row) Tri
}

// and is FALSE if a term is, else UNKNOWN if a term is, else TRUE.
type and []evaluator

func (a and) eval(row capture.Row) Tri {
	r := True
	for _, t := range a {
		switch t.eval(row) {
		case False:
			return False
		case Unknown:
			r = Unknown
		}
	}
	return r
}

// or is TRUE if a term is, else UNKNOWN if a term is, else FALSE.
type or []evaluator

func (o or) eval(row capture.Row) Tri {
	r := False
	for _, t := range o {
		switch t.eval(row) {
		case True:
			return True
		case Unknown:
			r = Unknown
		}
	}
	return r
}

type not struct{ x evaluator }

func (n not) eval(row capture.Row) Tri { return n.x.eval(row).not() }

// value is a compiled operand: a row column (col >= 0) or a constant.
type value struct {
	col int
	c   *constant
}

// raw returns the operand's value in row. A column past the end of row
// is Absent.
func (v *value) raw(row capture.Row) any {
	if v.col < len(row) {
		return row[v.col]
	}
	return capture.Absent
}

func (v *value) scalar(row capture.Row) scalar {
	if v.c != nil {
		return v.c.val
	}
	return scalarOf(v.raw(row))
}

// compare orders two operands in row, with string constants read as the
// other operand's type.
func compare(l, r *value, row capture.Row) (int, bool) {
	a, b := l.scalar(row), r.scalar(row)
	ka, kb := a.kind, b.kind
	if l.c != nil {
		a = l.c.as(kb)
	}
	if r.c != nil {
		b = r.c.as(ka)
	}
	return compareScalars(&a, &b)
}

// compareColumn is column op constant, the common case. It compares int64,
// string, bool and decimal values with constants of their kind without
// unpacking them.
type compareColumn struct {
	op  cmpOp
	col int
	c   *constant
}

func (n *compareColumn) eval(row capture.Row) Tri {
	var v any = capture.Absent
	if n.col < len(row) {
		v = row[n.col]
	}
	k := &n.c.val
	switch x := v.(type) {
	case int64:
		if k.kind == sInt {
			return n.op.result(cmp.Compare(x, k.i))
		}
	case string:
		if k.kind == sString {
			return n.op.result(strings.Compare(x, k.s))
		}
	case bool:
		if k.kind == sBool {
			return n.op.result(cmp.Compare(boolInt(x), k.i))
		}
	case capture.Decimal:
		d, ok := parseDecimal(string(x))
		switch {
		case !ok:
			return Unknown
		case k.kind == sInt:
			return n.op.result(-cmpIntDecimal(k.i, d))
		case k.kind == sDecimal:
			return n.op.result(cmpDecimal(d, k.d))
		}
	case nil:
		return Unknown
	}
	a := scalarOf(v)
	b := n.c.as(a.kind)
	c, ok := compareScalars(&a, &b)
	if !ok {
		return Unknown
	}
	return n.op.result(c)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// compareValues is l op r for any two operands.
type compareValues struct {
	op   cmpOp
	l, r value
}

func (n *compareValues) eval(row capture.Row) Tri {
	c, ok := compare(&n.l, &n.r, row)
	if !ok {
		return Unknown
	}
	return n.op.result(c)
}

// in is x [NOT] IN (list): TRUE if x equals an element, else UNKNOWN if a
// comparison is, else FALSE; NOT IN negates that.
type in struct {
	not  bool
	x    value
	list []value
}

func (n *in) eval(row capture.Row) Tri {
	r := False
	for i := range n.list {
		c, ok := compare(&n.x, &n.list[i], row)
		if !ok {
			r = Unknown
		} else if c == 0 {
			r = True
			break
		}
	}
	if n.not {
		return r.not()
	}
	return r
}

// isNull is x IS [NOT] NULL. Absent is neither NULL nor NOT NULL: UNKNOWN.
type isNull struct {
	not bool
	x   value
}

func (n *isNull) eval(row capture.Row) Tri {
	var null bool
	if n.x.c != nil {
		null = n.x.c.val.kind == sNull
	} else {
		switch v := n.x.raw(row); v {
		case nil:
			null = true
		case capture.Absent:
			return Unknown
		}
	}
	return triOf(null != n.not)
}

// like is x [NOT] LIKE pattern, or x [NOT] LIKE NULL when null is set.
// Values that are not strings (or JSON) give UNKNOWN.
type like struct {
	not     bool
	x       value
	pattern likePattern
	null    bool
}

func (n *like) eval(row capture.Row) Tri {
	s := n.x.scalar(row)
	if n.null || s.kind != sString {
		return Unknown
	}
	return triOf(n.pattern.match(s.s) != n.not)
}

// between is x [NOT] BETWEEN lo AND hi, which is x >= lo AND x <= hi.
type between struct {
	not       bool
	x, lo, hi value
}

func (n *between) eval(row capture.Row) Tri {
	r := True
	if c, ok := compare(&n.x, &n.lo, row); !ok {
		r = Unknown
	} else if c < 0 {
		r = False
	}
	if r != False {
		if c, ok := compare(&n.x, &n.hi, row); !ok {
			r = Unknown
		} else if c > 0 {
			r = False
		}
	}
	if n.not {
		return r.not()
	}
	return r
}
