package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/syncd-dev/syncd/apply/plan"
)

// catalogColumn is a target column as information_schema describes it.
type catalogColumn struct {
	name     string // as the server spells it
	dataType string // DATA_TYPE, lower case: "int", "decimal", "longtext"
	colType  string // COLUMN_TYPE: "int(11) unsigned", "decimal(10,2)"
	scale    int    // NUMERIC_SCALE, or -1
}

// catalogTable is a target table as information_schema describes it.
type catalogTable struct {
	columns map[string]catalogColumn // by lower-case name: MySQL column names ignore case
	// unique lists the column sets of the unique indexes (PRIMARY
	// included) over whole columns, lower case.
	unique [][]string
	// others counts the unique indexes that are not over whole columns
	// (prefixes, expressions).
	others int
}

// column returns the column named name, matched as MySQL matches names:
// without regard to case.
func (c *catalogTable) column(name string) (catalogColumn, bool) {
	cc, ok := c.columns[strings.ToLower(name)]
	return cc, ok
}

// HasColumn implements plan.CatalogTable.
func (c *catalogTable) HasColumn(name string) bool {
	_, ok := c.column(name)
	return ok
}

// HasUnique implements plan.CatalogTable: it reports whether a
// unique index covers exactly cols.
func (c *catalogTable) HasUnique(cols []string) bool {
	for _, u := range c.unique {
		if sameColumns(u, cols) {
			return true
		}
	}
	return false
}

// sameColumns reports whether a and b name the same set of columns,
// ignoring case.
func sameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x := make([]string, len(a))
	y := make([]string, len(b))
	for i := range a {
		x[i], y[i] = strings.ToLower(a[i]), strings.ToLower(b[i])
	}
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// lookupTable reads a table's columns and unique indexes; plan.ErrNoTable if
// there is no such base table.
func lookupTable(ctx context.Context, db *sql.DB, name tableName) (*catalogTable, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables
		WHERE table_schema = ? AND table_name = ? AND table_type = 'BASE TABLE'`, name.db, name.name).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("look up table %s: %w", name, err)
	}
	if n == 0 {
		return nil, plan.ErrNoTable
	}
	ct := &catalogTable{columns: map[string]catalogColumn{}}
	rows, err := db.QueryContext(ctx, `SELECT column_name, LOWER(data_type), column_type, COALESCE(numeric_scale, -1)
		FROM information_schema.columns WHERE table_schema = ? AND table_name = ?`, name.db, name.name)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", name, err)
	}
	for rows.Next() {
		var c catalogColumn
		if err := rows.Scan(&c.name, &c.dataType, &c.colType, &c.scale); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns of %s: %w", name, err)
		}
		ct.columns[strings.ToLower(c.name)] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", name, err)
	}
	// Indexes on a prefix of a column (sub_part) do not make whole
	// values unique.
	rows, err = db.QueryContext(ctx, `SELECT index_name, column_name, sub_part IS NOT NULL
		FROM information_schema.statistics WHERE table_schema = ? AND table_name = ? AND non_unique = 0
		ORDER BY index_name, seq_in_index`, name.db, name.name)
	if err != nil {
		return nil, fmt.Errorf("read unique indexes of %s: %w", name, err)
	}
	byIndex := map[string][]string{}
	partial := map[string]bool{}
	var order []string
	for rows.Next() {
		var index string
		var col sql.NullString // NULL for functional index parts
		var prefix bool
		if err := rows.Scan(&index, &col, &prefix); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read unique indexes of %s: %w", name, err)
		}
		if _, ok := byIndex[index]; !ok {
			order = append(order, index)
		}
		byIndex[index] = append(byIndex[index], strings.ToLower(col.String))
		partial[index] = partial[index] || prefix || !col.Valid
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read unique indexes of %s: %w", name, err)
	}
	for _, index := range order {
		if partial[index] {
			ct.others++
		} else {
			ct.unique = append(ct.unique, byIndex[index])
		}
	}
	return ct, nil
}

// databaseExists reports whether the database exists.
func databaseExists(ctx context.Context, db *sql.DB, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?`, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up database %s: %w", name, err)
	}
	return n > 0, nil
}
