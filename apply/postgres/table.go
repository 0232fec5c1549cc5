package postgres

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/router"
)

// kind says how a column's wire values become PostgreSQL text.
type kind uint8

const (
	kindScalar kind = iota // strings as they are, numbers and booleans as written
	kindString             // string types: an array becomes its array literal
	kindJSON               // json, jsonb: the raw JSON
	kindBytea              // base64 on the wire, \x hex at the target
	kindArray              // JSON arrays become array literals
)

// column is one published column with what its target type needs.
type column struct {
	name  string
	ident string // quoted name
	kind  kind
	// elem and delim describe the elements of an array column.
	elem  kind
	delim byte
	// typ is the column's type (domain included) as a quoted, qualified
	// name without modifiers: assigning to the column applies them.
	typ string
	// textEq: the type has no "=" of its own; rows are matched by text.
	textEq bool
}

// table is a prepared target table.
type table struct {
	plan.Table          // ID, column names and key
	ident      string   // quoted, qualified name
	cols       []column // the published columns, in the schema's order
	// referenced: a foreign key of another table references the table;
	// a truncate is written as DELETE (see truncateSQL).
	referenced bool
	// stmts caches statement texts by shape (see plan.ShapeKey).
	stmts map[string]string
}

// newTable describes ts at a target whose catalog gave ct and types.
func newTable(ts *router.TableSchema, ct *catalogTable, types map[uint32]pgType) (*table, error) {
	pt, err := plan.NewTable(ts, ts.Target)
	if err != nil {
		return nil, err
	}
	tb := &table{
		Table:      pt,
		ident:      pgx.Identifier{ts.Target.Schema, ts.Target.Name}.Sanitize(),
		referenced: ct.Referenced,
		stmts:      make(map[string]string),
	}
	for _, sc := range ts.Columns {
		oid, ok := ct.Columns[sc.Name]
		if !ok {
			return nil, fmt.Errorf("table %s has no column %s", ts.Target, sc.Name)
		}
		col, err := newColumn(sc.Name, oid, types)
		if err != nil {
			return nil, fmt.Errorf("column %s of %s: %w", sc.Name, ts.Target, err)
		}
		tb.cols = append(tb.cols, col)
	}
	return tb, nil
}

// newColumn describes a column of type oid.
func newColumn(name string, oid uint32, types map[uint32]pgType) (column, error) {
	t, ok := types[oid]
	if !ok {
		return column{}, fmt.Errorf("type %d not found", oid)
	}
	base := baseType(t, types)
	c := column{
		name:   name,
		ident:  pgx.Identifier{name}.Sanitize(),
		kind:   kindOf(base),
		typ:    t.ident(),
		textEq: !base.HasEq,
	}
	if c.kind == kindArray {
		elem := baseType(types[base.Elem], types)
		c.elem, c.delim = kindOf(elem), elem.Delim
		if c.elem == kindArray || c.elem == kindString { // no arrays of arrays; strings are scalars inside
			c.elem = kindScalar
		}
		if c.delim == 0 {
			c.delim = ','
		}
		c.textEq = true // array equality needs the element's; compare text
	}
	return c, nil
}

// baseType follows a domain to the type it is over.
func baseType(t pgType, types map[uint32]pgType) pgType {
	for range 32 { // domains over domains, but not forever
		if t.Kind != 'd' {
			break
		}
		b, ok := types[t.Base]
		if !ok {
			break
		}
		t = b
	}
	return t
}

// kindOf says how values of a (non-domain) type are written.
func kindOf(t pgType) kind {
	switch {
	case t.is("json"), t.is("jsonb"):
		return kindJSON
	case t.is("bytea"):
		return kindBytea
	case t.Category == 'A' && t.Elem != 0:
		return kindArray
	case t.Category == 'S':
		return kindString
	}
	return kindScalar
}

// names lists the quoted names of the columns at idx, comma-separated,
// each with prefix.
func (tb *table) names(idx []int, prefix string) string {
	var b strings.Builder
	for i, c := range idx {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix)
		b.WriteString(tb.cols[c].ident)
	}
	return b.String()
}
