package sqlserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/syncd-dev/syncd/apply/plan"
)

// catalogColumn is a target column as sys.columns describes it.
type catalogColumn struct {
	name     string // as the server spells it
	dataType string // TYPE_NAME of its system type, lower case: "int", "decimal", "nvarchar"
	scale    int
	identity bool // an IDENTITY column
}

// catalogTable is a target table as the catalog views describe it.
type catalogTable struct {
	columns map[string]catalogColumn // by name
	// unique lists the column sets of the unfiltered unique indexes
	// (PRIMARY KEY and UNIQUE constraints included).
	unique [][]string
}

// column returns the column named name: spelled exactly, or else, as the
// usual case-insensitive collations match names, without regard to case.
func (c *catalogTable) column(name string) (catalogColumn, bool) {
	if cc, ok := c.columns[name]; ok {
		return cc, true
	}
	for n, cc := range c.columns {
		if strings.EqualFold(n, name) {
			return cc, true
		}
	}
	return catalogColumn{}, false
}

// HasColumn implements plan.CatalogTable.
func (c *catalogTable) HasColumn(name string) bool {
	_, ok := c.column(name)
	return ok
}

// HasUnique implements plan.CatalogTable: it reports whether a
// unique index covers exactly cols.
func (c *catalogTable) HasUnique(cols []string) bool {
	want := slices.Clone(cols)
	slices.Sort(want)
	for _, u := range c.unique {
		got := slices.Clone(u)
		slices.Sort(got)
		if slices.EqualFunc(got, want, strings.EqualFold) {
			return true
		}
	}
	return false
}

// objectID returns the id of the user table name (OBJECT_ID, which
// resolves an unqualified name in the login's default schema:
// https://learn.microsoft.com/en-us/sql/t-sql/functions/object-id-transact-sql),
// or plan.ErrNoTable.
func objectID(ctx context.Context, db *sql.DB, name tableName) (int64, error) {
	var id sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT OBJECT_ID(@p1, N'U')", name.quoted()).Scan(&id); err != nil {
		return 0, fmt.Errorf("look up table %s: %w", name, err)
	}
	if !id.Valid {
		return 0, plan.ErrNoTable
	}
	return id.Int64, nil
}

// tableExists reports whether the user table name exists.
func tableExists(ctx context.Context, db *sql.DB, name tableName) (bool, error) {
	_, err := objectID(ctx, db, name)
	if errors.Is(err, plan.ErrNoTable) {
		return false, nil
	}
	return err == nil, err
}

// lookupTable reads a table's columns and unique indexes; plan.ErrNoTable if
// there is no such user table. Identity columns are sys.columns'
// is_identity
// (https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-columns-transact-sql);
// unique indexes sys.indexes' is_unique without a filter
// (https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-indexes-transact-sql).
func lookupTable(ctx context.Context, db *sql.DB, name tableName) (*catalogTable, error) {
	id, err := objectID(ctx, db, name)
	if err != nil {
		return nil, err
	}
	ct := &catalogTable{columns: map[string]catalogColumn{}}
	rows, err := db.QueryContext(ctx, `SELECT c.name, LOWER(TYPE_NAME(c.system_type_id)), c.scale, c.is_identity
		FROM sys.columns AS c WHERE c.object_id = @p1`, id)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", name, err)
	}
	for rows.Next() {
		var c catalogColumn
		if err := rows.Scan(&c.name, &c.dataType, &c.scale, &c.identity); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns of %s: %w", name, err)
		}
		ct.columns[c.name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", name, err)
	}
	rows, err = db.QueryContext(ctx, `SELECT i.index_id, c.name
		FROM sys.indexes AS i
		JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal > 0
		JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
		WHERE i.object_id = @p1 AND i.is_unique = 1 AND i.has_filter = 0
		ORDER BY i.index_id, ic.key_ordinal`, id)
	if err != nil {
		return nil, fmt.Errorf("read unique indexes of %s: %w", name, err)
	}
	defer rows.Close()
	last := int64(-1)
	for rows.Next() {
		var index int64
		var col string
		if err := rows.Scan(&index, &col); err != nil {
			return nil, fmt.Errorf("read unique indexes of %s: %w", name, err)
		}
		if index != last {
			ct.unique = append(ct.unique, nil)
			last = index
		}
		ct.unique[len(ct.unique)-1] = append(ct.unique[len(ct.unique)-1], col)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read unique indexes of %s: %w", name, err)
	}
	return ct, nil
}
