package mysql

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
	// (information_schema DATA_TYPE, lower case).
	source   string
	dataType string
	// scale is the number of fraction digits of a DECIMAL target column;
	// -1 for other types.
	scale int
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
	server     *server
	// guard: the table has unique indexes besides the key's, on which an
	// upsert could meet another row; upserts then fail instead of
	// updating that row (see insertShape).
	guard bool
	// stmts caches the fixed parts of statements by shape (see plan.ShapeKey).
	stmts map[string]*shape
}

// newTable describes ts at a target table ct of database db.
func newTable(ts *router.TableSchema, name tableName, ct *catalogTable, s *server) (*table, error) {
	pt, err := plan.NewTable(ts, name)
	if err != nil {
		return nil, err
	}
	tb := &table{
		Table:  pt,
		name:   name,
		ident:  name.quoted(),
		server: s,
		stmts:  make(map[string]*shape),
	}
	for _, sc := range ts.Columns {
		cc, ok := ct.column(sc.Name)
		if !ok {
			return nil, fmt.Errorf("table %s has no column %s", name, sc.Name)
		}
		m, err := mapType(ts.SourceKind, sc.Type, false)
		if err != nil {
			m = mapped{kind: kindText}
		}
		col := column{name: sc.Name, ident: quote(cc.name), kind: m.kind, source: sc.Type, dataType: cc.dataType, scale: -1}
		if cc.dataType == "decimal" {
			col.scale = cc.scale
		}
		tb.cols = append(tb.cols, col)
	}
	if len(tb.Key) > 0 {
		keyCols := make([]string, len(tb.Key))
		for i, k := range tb.Key {
			keyCols[i] = tb.cols[k].name
		}
		tb.guard = ct.others > 0
		for _, u := range ct.unique {
			if !sameColumns(u, keyCols) {
				tb.guard = true
			}
		}
	}
	return tb, nil
}

// stmt is a statement of kind o that writes rows rows of tb, c if one.
func (tb *table) stmt(o plan.Op, sql string, args []any, c *apply.Change, rows int) sqltx.Stmt {
	return sqltx.Stmt{SQL: sql, Args: args, Table: tb.name.String(), Op: o, Rows: rows, Change: c, Tag: tb}
}

// names lists the quoted names of the columns at idx, comma-separated.
func (tb *table) names(idx []int) string {
	var b strings.Builder
	for i, c := range idx {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tb.cols[c].ident)
	}
	return b.String()
}
