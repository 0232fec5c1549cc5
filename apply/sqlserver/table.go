package sqlserver

import (
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
	"github.com/syncd-dev/syncd/router"
)

// column is one published column with what writing its values needs.
type column struct {
	name  string
	ident string // quoted name
	kind  kind
	// source is the column's source type; dataType the target column's
	// (sys.types name, lower case), if known.
	source   string
	dataType string
	// scale is the number of fraction digits of a DECIMAL target column;
	// -1 for other types.
	scale int
	// identity: the target column is an IDENTITY column.
	identity bool
}

// typeName names the column's type for errors.
func (c *column) typeName() string {
	if c.dataType != "" {
		return c.dataType
	}
	return c.source
}

// table is a prepared target table.
type table struct {
	plan.Table // ID, column names and key
	name       tableName
	ident      string   // quoted, qualified name
	cols       []column // the published columns, in the schema's order
	// tag prefixes each statement that writes rows: the target's WITH
	// CHANGE_TRACKING_CONTEXT clause, or "" (origin.go).
	tag string
}

// newTable describes ts at a target table ct.
func newTable(ts *router.TableSchema, name tableName, ct *catalogTable) (*table, error) {
	pt, err := plan.NewTable(ts, name)
	if err != nil {
		return nil, err
	}
	tb := &table{Table: pt, name: name, ident: name.quoted()}
	for _, sc := range ts.Columns {
		cc, ok := ct.column(sc.Name)
		if !ok {
			return nil, fmt.Errorf("table %s has no column %s", name, sc.Name)
		}
		m, err := mapType(ts.SourceKind, sc.Type, false)
		if err != nil {
			m = mapped{kind: kindText}
		}
		col := column{name: sc.Name, ident: quote(cc.name), kind: m.kind, source: sc.Type,
			dataType: cc.dataType, scale: -1, identity: cc.identity}
		if cc.dataType == "decimal" || cc.dataType == "numeric" {
			col.scale = cc.scale
		}
		tb.cols = append(tb.cols, col)
	}
	return tb, nil
}

// writesIdentity reports whether cols holds an identity column.
func (tb *table) writesIdentity(cols []int) bool {
	for _, c := range cols {
		if tb.cols[c].identity {
			return true
		}
	}
	return false
}

// stmt is a statement of kind o that writes rows rows of tb, c if one.
func (tb *table) stmt(o plan.Op, sql string, args []any, c *apply.Change, rows int) sqltx.Stmt {
	return sqltx.Stmt{SQL: sql, Args: args, Table: tb.name.String(), Op: o, Rows: rows, Change: c, Tag: tb}
}

// allColumns returns the positions of all of tb's columns.
func allColumns(tb *table) []int {
	all := make([]int, len(tb.cols))
	for i := range all {
		all[i] = i
	}
	return all
}

// names lists the quoted names of the columns at idx, comma-separated,
// each after prefix ("S.").
func (tb *table) names(idx []int, prefix string) string {
	var b strings.Builder
	for i, c := range idx {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix + tb.cols[c].ident)
	}
	return b.String()
}
