package sqlserver

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
)

// Prepare implements apply.Target. It creates the scope_info table if it
// is missing, then checks each target table or, with CreateTables,
// creates it and its schema or adds the published columns it lacks
// (plan.PrepareTable). A type SQL Server cannot represent is, like the
// errors about the tables themselves, marked retry.Terminal.
func (t *Target) Prepare(ctx context.Context, scope string, tables []*router.TableSchema) error {
	db, err := t.connect(ctx)
	if err != nil {
		return err
	}
	if err := t.ensureScopeInfo(ctx, db); err != nil {
		return err
	}
	return t.tables.Prepare(tables, func(ts *router.TableSchema) (*table, error) {
		return t.prepareTable(ctx, db, ts)
	})
}

// targetName is the SQL Server name of a scope table's target.
func targetName(id capture.TableID) (tableName, error) {
	n := tableName{schema: id.Schema, name: id.Name}
	if n.schema != "" {
		if err := checkIdentifier(n.schema); err != nil {
			return n, retry.Terminal(fmt.Errorf("schema of table %s: %w", id, err))
		}
	}
	if err := checkIdentifier(n.name); err != nil {
		return n, retry.Terminal(fmt.Errorf("table %s: %w", id, err))
	}
	return n, nil
}

// prepareTable checks or creates the target table of ts and describes it.
func (t *Target) prepareTable(ctx context.Context, db *sql.DB, ts *router.TableSchema) (*table, error) {
	name, err := targetName(ts.Target)
	if err != nil {
		return nil, err
	}
	ct, err := plan.PrepareTable(ts, plan.TableDDL[*catalogTable]{
		Target: t.cfg.Name, Table: name, CreateTables: t.cfg.CreateTables, UniqueIndex: "unfiltered unique index",
		Lookup:     func() (*catalogTable, error) { return lookupTable(ctx, db, name) },
		Create:     func() error { return t.createTable(ctx, db, name, ts) },
		AddColumns: func(missing []string) error { return t.addColumns(ctx, db, name, ts, missing) },
	})
	if err != nil {
		return nil, err
	}
	tb, err := newTable(ts, name, ct)
	if err != nil {
		return nil, retry.Terminal(err)
	}
	tb.tag = t.tag
	return tb, nil
}

// createTable creates the table of ts, and its schema if missing.
func (t *Target) createTable(ctx context.Context, db *sql.DB, name tableName, ts *router.TableSchema) error {
	ddl, err := createTableSQL(name, ts, t.log)
	if err != nil {
		return retry.Terminal(fmt.Errorf("create table %s at target %s: %w", name, t.cfg.Name, err))
	}
	if err := t.ensureSchema(ctx, db, name.schema); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	t.log.Info("created target table", "table", name.String())
	return nil
}

// addColumns adds the published columns named missing to the target
// table, nullable, with types mapped as createTable maps them.
func (t *Target) addColumns(ctx context.Context, db *sql.DB, name tableName, ts *router.TableSchema, missing []string) error {
	ddl, err := addColumnsSQL(name, ts, missing)
	if err != nil {
		return retry.Terminal(fmt.Errorf("add columns to %s at target %s: %w", name, t.cfg.Name, err))
	}
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("add columns %s to %s: %w", strings.Join(missing, ", "), name, err)
	}
	t.log.Info("added columns to target table", "table", name.String(), "columns", missing)
	return nil
}

// ensureSchema creates a schema unless it exists ("": the default one).
// It looks first, so that a user without CREATE SCHEMA can use existing
// schemas.
func (t *Target) ensureSchema(ctx context.Context, db *sql.DB, schema string) error {
	if schema == "" {
		return nil
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sys.schemas WHERE name = @p1", schema).Scan(&n); err != nil {
		return fmt.Errorf("look up schema %s: %w", schema, err)
	}
	if n > 0 {
		return nil
	}
	// CREATE SCHEMA must be alone in its batch.
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+quote(schema)); err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	t.log.Info("created target schema", "schema", schema)
	return nil
}

// logger is the part of hclog createTableSQL uses.
type logger interface {
	Info(msg string, args ...any)
}

// createTableSQL returns the CREATE TABLE statement of ts: the published
// columns in order, their types mapped from the source's (mapType),
// nullable but for the key, and the primary key. A type with no faithful
// SQL Server type fails, naming the column.
func createTableSQL(name tableName, ts *router.TableSchema, log logger) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (", name.quoted())
	for i, c := range ts.Columns {
		if err := checkIdentifier(c.Name); err != nil {
			return "", fmt.Errorf("column %s: %w", c.Name, err)
		}
		key := slices.Contains(ts.Key, c.Name)
		m, err := mapType(ts.SourceKind, c.Type, key)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", c.Name, err)
		}
		if m.note != "" {
			log.Info("creating a column whose type differs from the source's", "table", name.String(), "column", c.Name,
				"source_type", c.Type, "type", m.ddl, "note", m.note)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(c.Name) + " " + m.ddl)
		if key {
			b.WriteString(" NOT NULL")
		} else {
			b.WriteString(" NULL")
		}
	}
	b.WriteString(plan.KeyClause(ts.Key, quote))
	b.WriteString(")")
	return b.String(), nil
}

// addColumnsSQL returns the ALTER TABLE statement that adds the columns
// of ts named missing, nullable.
func addColumnsSQL(name tableName, ts *router.TableSchema, missing []string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "ALTER TABLE %s ADD ", name.quoted())
	for i, col := range missing {
		c := ts.Column(col)
		m, err := mapType(ts.SourceKind, c.Type, false)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", col, err)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(col) + " " + m.ddl + " NULL")
	}
	return b.String(), nil
}
