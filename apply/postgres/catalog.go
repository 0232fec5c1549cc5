package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/capture"
)

// pgType is one pg_type row, as far as writing values needs it.
type pgType struct {
	OID      uint32
	Schema   string // pg_namespace.nspname
	Name     string // pg_type.typname
	Kind     byte   // typtype: 'd' for domains
	Category byte   // typcategory: 'A' arrays, 'S' strings, ...
	Elem     uint32 // element type of arrays, else 0
	Base     uint32 // base type of domains, else 0
	Delim    byte   // array element delimiter
	Array    uint32 // the array type over this type, 0 if none
	HasEq    bool   // an "=" operator takes two values of exactly this type
}

// ident is the type's schema-qualified, quoted name.
func (p pgType) ident() string { return pgx.Identifier{p.Schema, p.Name}.Sanitize() }

// is reports whether p is the built-in type name.
func (p pgType) is(name string) bool { return p.Schema == "pg_catalog" && p.Name == name }

// typeQuery loads the types in $1, the array types over them, and,
// recursively, the base types of domains and the element types of arrays
// among them.
const typeQuery = `WITH RECURSIVE wanted(oid) AS (
	SELECT unnest($1::pg_catalog.oid[])
	UNION
	SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END
	FROM pg_catalog.pg_type t JOIN wanted w ON t.oid = w.oid
	WHERE t.typtype = 'd' OR (t.typcategory = 'A' AND t.typelem <> 0)
)
SELECT t.oid, n.nspname::text, t.typname::text, t.typtype::text, t.typcategory::text,
	CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0::pg_catalog.oid END,
	t.typbasetype, t.typdelim::text, t.typarray,
	EXISTS (SELECT 1 FROM pg_catalog.pg_operator o
		WHERE o.oprname = '=' AND o.oprleft = t.oid AND o.oprright = t.oid)
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE t.oid IN (SELECT oid FROM wanted
	UNION SELECT a.typarray FROM pg_catalog.pg_type a WHERE a.oid = ANY ($1::pg_catalog.oid[]))`

// loadTypes returns the types in oids and those they refer to (see
// typeQuery), by OID.
func loadTypes(ctx context.Context, conn *pgx.Conn, oids []uint32) (map[uint32]pgType, error) {
	rows, err := conn.Query(ctx, typeQuery, oids)
	if err != nil {
		return nil, fmt.Errorf("read column types: %w", err)
	}
	types := make(map[uint32]pgType)
	for rows.Next() {
		var p pgType
		var kind, cat, delim string
		if err := rows.Scan(&p.OID, &p.Schema, &p.Name, &kind, &cat, &p.Elem, &p.Base, &delim, &p.Array, &p.HasEq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read column types: %w", err)
		}
		p.Kind, p.Category, p.Delim = firstByte(kind), firstByte(cat), firstByte(delim)
		types[p.OID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read column types: %w", err)
	}
	return types, nil
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// catalogTable is a target table as the catalog describes it.
type catalogTable struct {
	OID     uint32
	Columns map[string]uint32 // column name → type OID
	Attnums map[string]int16  // column name → attnum
	// Unique lists the column sets of the unique indexes that ON CONFLICT
	// can use (immediate, valid, without predicate or expressions).
	Unique [][]int16
	// Referenced: a foreign key of another table references this one,
	// so PostgreSQL refuses to TRUNCATE it. Cascading names such keys
	// whose ON DELETE action changes the referencing rows (CASCADE,
	// SET NULL, SET DEFAULT).
	Referenced bool
	Cascading  []string
}

// HasColumn implements plan.CatalogTable.
func (c *catalogTable) HasColumn(name string) bool {
	_, ok := c.Columns[name]
	return ok
}

// HasUnique implements plan.CatalogTable: it reports whether a
// usable unique index covers exactly cols.
func (c *catalogTable) HasUnique(cols []string) bool {
	want := make([]int16, 0, len(cols))
	for _, name := range cols {
		n, ok := c.Attnums[name]
		if !ok {
			return false
		}
		want = append(want, n)
	}
	slices.Sort(want)
	for _, u := range c.Unique {
		got := slices.Sorted(slices.Values(u))
		if slices.Equal(got, slices.Compact(want)) {
			return true
		}
	}
	return false
}

// lookupTable reads a table's columns and unique indexes; plan.ErrNoTable if
// there is no such table (or it is not an ordinary or partitioned table).
func lookupTable(ctx context.Context, conn *pgx.Conn, id capture.TableID) (*catalogTable, error) {
	ct := &catalogTable{Columns: map[string]uint32{}, Attnums: map[string]int16{}}
	err := conn.QueryRow(ctx, `SELECT c.oid FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
		id.Schema, id.Name).Scan(&ct.OID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, plan.ErrNoTable
	}
	if err != nil {
		return nil, fmt.Errorf("look up table %s: %w", id, err)
	}
	rows, err := conn.Query(ctx, `SELECT attname::text, atttypid, attnum FROM pg_catalog.pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, ct.OID)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", id, err)
	}
	var name string
	var typ uint32
	var num int16
	_, err = pgx.ForEachRow(rows, []any{&name, &typ, &num}, func() error {
		ct.Columns[name], ct.Attnums[name] = typ, num
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", id, err)
	}
	rows, err = conn.Query(ctx, `SELECT (indkey::pg_catalog.int2[])[0:indnkeyatts - 1] FROM pg_catalog.pg_index
		WHERE indrelid = $1 AND indisunique AND indimmediate AND indisvalid
		AND indpred IS NULL AND indexprs IS NULL`, ct.OID)
	if err != nil {
		return nil, fmt.Errorf("read unique indexes of %s: %w", id, err)
	}
	var key []int16
	_, err = pgx.ForEachRow(rows, []any{&key}, func() error {
		ct.Unique = append(ct.Unique, slices.Clone(key))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read unique indexes of %s: %w", id, err)
	}
	if err := ct.readReferences(ctx, conn, id); err != nil {
		return nil, err
	}
	return ct, nil
}

// readReferences reads the foreign keys of other tables that reference
// the table. A table's references to itself do not count: TRUNCATE
// empties both ends at once.
func (c *catalogTable) readReferences(ctx context.Context, conn *pgx.Conn, id capture.TableID) error {
	rows, err := conn.Query(ctx, `SELECT conrelid::pg_catalog.regclass::text || '.' || conname::text, confdeltype IN ('c', 'n', 'd')
		FROM pg_catalog.pg_constraint WHERE contype = 'f' AND confrelid = $1 AND conrelid <> $1`, c.OID)
	if err != nil {
		return fmt.Errorf("read foreign keys referencing %s: %w", id, err)
	}
	var name string
	var cascading bool
	_, err = pgx.ForEachRow(rows, []any{&name, &cascading}, func() error {
		c.Referenced = true
		if cascading {
			c.Cascading = append(c.Cascading, name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read foreign keys referencing %s: %w", id, err)
	}
	return nil
}

// knownTypes reports which of the type names (format_type text such as
// "numeric(10,2)" or "mood[]") the target knows. to_regtype fails on a
// name that does not parse; then each name is checked alone, and one that
// fails counts as unknown.
func knownTypes(ctx context.Context, conn *pgx.Conn, names []string) (map[string]bool, error) {
	known := make(map[string]bool, len(names))
	rows, err := conn.Query(ctx, `SELECT n, pg_catalog.to_regtype(n) IS NOT NULL FROM unnest($1::text[]) n`, names)
	if err == nil {
		var name string
		var ok bool
		_, err = pgx.ForEachRow(rows, []any{&name, &ok}, func() error {
			known[name] = ok
			return nil
		})
		if err == nil {
			return known, nil
		}
	}
	if !isPgError(err) {
		return nil, fmt.Errorf("check column types: %w", err)
	}
	for _, name := range names {
		var ok bool
		err := conn.QueryRow(ctx, `SELECT pg_catalog.to_regtype($1) IS NOT NULL`, name).Scan(&ok)
		if err != nil && !isPgError(err) {
			return nil, fmt.Errorf("check column type %s: %w", name, err)
		}
		known[name] = err == nil && ok
	}
	return known, nil
}

func isPgError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}
