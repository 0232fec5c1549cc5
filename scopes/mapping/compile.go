package mapping

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr/vm"

	"github.com/syncd-dev/syncd/capture"
)

// Mapper maps the rows of one source table version. It is not safe for
// concurrent use.
type Mapper struct {
	table *capture.Table
	outs  []output
	refs  []ref // the source columns expressions read
	env   map[string]any
	vm    vm.VM
}

// output is how one target column gets its value.
type output struct {
	name string
	src  int         // the source column carried over; -1 for a computed one
	prog *vm.Program // computed: the program
	refs []int       // computed: the positions in Mapper.refs it reads
	// boolInt publishes a computed bool as 0 or 1: MySQL sources have no
	// boolean type, so the column is a tinyint (see columnTypes).
	boolInt bool
}

// ref is one identifier expressions read, and the source column it names.
type ref struct {
	name string
	col  int
}

// RowError is a row the mapping cannot map: an expression failed on it.
type RowError struct {
	Column string // the target column
	Err    error
}

func (e *RowError) Error() string { return "map column " + e.Column + ": " + e.Err.Error() }
func (e *RowError) Unwrap() error { return e.Err }

// Compile resolves s against a source table version from a source of
// kind (its types name the published column types): it finds each
// column's source column, type-checks each expression against the source
// columns' types, and works out the target key. It returns every problem
// it finds, joined.
//
// The mapped table has the target columns (columns carried over in source
// order, then the declared ones in declaration order) and the target key:
// for each source key column in key order, the target column it is
// carried to, or else the injective computed column that reads it.
func Compile(s *Spec, t *capture.Table, kind string) (*Mapper, error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	norm := func(n string) string {
		if s.Auto == AutoFold {
			return Fold(n)
		}
		return n
	}
	find := func(name string) int {
		var found []int
		for i, c := range t.Columns {
			if c.Name == name || s.Auto == AutoFold && Fold(c.Name) == Fold(name) {
				found = append(found, i)
			}
		}
		switch len(found) {
		case 0:
			fail("table %s has no column %q", t.ID(), name)
			return -1
		case 1:
			return found[0]
		}
		names := make([]string, len(found))
		for i, f := range found {
			names[i] = fmt.Sprintf("%q", t.Columns[f].Name)
		}
		fail("%q matches columns %s of table %s; name one exactly with from, or drop the others", name, strings.Join(names, " and "), t.ID())
		return -1
	}

	m := &Mapper{table: &capture.Table{Schema: t.Schema, Name: t.Name}, env: map[string]any{}}
	taken := make([]bool, len(t.Columns)) // named as some column's source, or dropped
	for _, d := range s.Drop {
		if i := find(d); i >= 0 {
			taken[i] = true
		}
	}
	declared := make([]int, len(s.Columns)) // source column of each declared column; -1 computed
	for i := range s.Columns {
		declared[i] = -1
		if src := s.Columns[i].source(); src != "" {
			if declared[i] = find(src); declared[i] >= 0 {
				taken[declared[i]] = true
			}
		}
	}
	if s.Auto != AutoNone {
		for i, c := range t.Columns {
			if taken[i] {
				continue
			}
			if j := slices.IndexFunc(s.Columns, func(d Column) bool { return norm(d.Name) == norm(c.Name) }); j >= 0 {
				fail("target column %q is declared and also carried over from source column %q; drop that or rename it", s.Columns[j].Name, c.Name)
				continue
			}
			m.add(output{name: c.Name, src: i}, c.Type)
		}
	}
	for i, c := range s.Columns {
		if c.Expr == nil {
			if declared[i] >= 0 {
				typ := c.Type
				if typ == "" {
					typ = t.Columns[declared[i]].Type
				}
				m.add(output{name: c.Name, src: declared[i]}, typ)
			}
			continue
		}
		o, typ, err := m.compute(c, t, kind, s.HashKey, find)
		if err != nil {
			if c.Pos != "" {
				fail("%s: target column %q: %w", c.Pos, c.Name, err)
			} else {
				fail("target column %q: %w", c.Name, err)
			}
			continue
		}
		m.add(o, typ)
	}
	m.key(s, t, fail)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

func (m *Mapper) add(o output, typ string) {
	m.outs = append(m.outs, o)
	m.table.Columns = append(m.table.Columns, capture.Column{Name: o.name, Type: typ})
}

// compute compiles a computed column against the source column types.
func (m *Mapper) compute(c Column, t *capture.Table, kind string, key []byte, find func(string) int) (output, string, error) {
	o := output{name: c.Name, src: -1}
	env := map[string]any{}
	for _, name := range c.Expr.Refs {
		col := find(name)
		if col < 0 {
			return o, "", fmt.Errorf("expression reads unknown column %q", name)
		}
		if typ := envType(kind, t.Columns[col].Type); typ != nil {
			env[name] = reflect.Zero(typ).Interface()
		}
		i := slices.IndexFunc(m.refs, func(r ref) bool { return r.name == name })
		if i < 0 {
			i = len(m.refs)
			m.refs = append(m.refs, ref{name: name, col: col})
		}
		o.refs = append(o.refs, i)
	}
	if key == nil && strings.Contains(c.Expr.Source, "hmac_sha256") {
		return o, "", errors.New("hmac_sha256 needs a hash_key in the table's mapping")
	}
	prog, rt, err := compile(c.Expr, env, key)
	if err != nil {
		return o, "", err
	}
	o.prog = prog
	o.boolInt = kind == "mysql" && rt == boolType
	typ := c.Type
	if typ != "" && !fits(kind, typ, rt, o.boolInt) {
		return o, "", fmt.Errorf("the expression's result has type %s, which a column of type %q cannot hold; change the expression or the type", rt, typ)
	}
	if typ == "" {
		if typ = columnType(kind, rt); typ == "" {
			what := "a type known only when it runs"
			if rt != nil {
				what = "type " + rt.String()
			}
			return o, "", fmt.Errorf("the expression's result has %s; declare the column's type", what)
		}
	}
	return o, typ, nil
}

// key works out the mapped table's key (see Compile).
func (m *Mapper) key(s *Spec, t *capture.Table, fail func(string, ...any)) {
	for _, k := range t.Key {
		i := slices.IndexFunc(m.outs, func(o output) bool { return o.src == k })
		if i < 0 {
			i = slices.IndexFunc(m.outs, func(o output) bool {
				return o.prog != nil && slices.ContainsFunc(o.refs, func(r int) bool { return m.refs[r].col == k })
			})
			if i >= 0 && !injective(s, m.outs[i].name) {
				fail("key column %q of %s is transformed into %q, which is not declared injective: set injective = true if distinct keys always give distinct values", t.Columns[k].Name, t.ID(), m.outs[i].name)
				continue
			}
		}
		if i < 0 {
			fail("key column %q of %s is not mapped to any target column", t.Columns[k].Name, t.ID())
			continue
		}
		if !slices.Contains(m.table.Key, i) {
			m.table.Key = append(m.table.Key, i)
		}
	}
}

func injective(s *Spec, name string) bool {
	i := slices.IndexFunc(s.Columns, func(c Column) bool { return c.Name == name })
	return i >= 0 && s.Columns[i].Injective
}

// Table returns the mapped table: target column names and types, and the
// target key. It never changes.
func (m *Mapper) Table() *capture.Table { return m.table }

// Map returns the mapped row of a source row (nil for nil). A computed
// column one of whose inputs the source did not send (an old image with
// only the key) is Absent too. On error it returns a *RowError and no row.
func (m *Mapper) Map(row capture.Row) (capture.Row, error) {
	if row == nil {
		return nil, nil
	}
	out := make(capture.Row, len(m.outs))
	envReady := false
	for i, o := range m.outs {
		if o.prog == nil {
			out[i] = row[o.src]
			continue
		}
		if slices.ContainsFunc(o.refs, func(r int) bool { return row[m.refs[r].col] == capture.Absent }) {
			out[i] = capture.Absent
			continue
		}
		if !envReady {
			for _, r := range m.refs {
				m.env[r.name] = envValue(row[r.col])
			}
			envReady = true
		}
		v, err := m.vm.Run(o.prog, m.env)
		if err != nil {
			return nil, &RowError{Column: o.name, Err: err}
		}
		if b, isBool := v.(bool); isBool && o.boolInt {
			v = 0
			if b {
				v = 1
			}
		}
		var ok bool
		if out[i], ok = rowValue(v); !ok {
			return nil, &RowError{Column: o.name, Err: fmt.Errorf("result of type %T", v)}
		}
	}
	return out, nil
}
