package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
)

// ddlLock is the advisory lock key that serializes syncd's DDL at a
// target, so that workers preparing the same tables at once do not race
// (CREATE ... IF NOT EXISTS alone does not prevent it).
const ddlLock = 0x73796e6364 // "syncd"

// Prepare implements apply.Target. It creates the scope_info table if it
// is missing, then checks each target table or, with CreateTables,
// creates it and its schema or adds the columns it lacks
// (plan.PrepareTable). It then reads the target's column types, by which
// Tx converts values, and whether foreign keys reference the table,
// which decides how Tx truncates it.
func (t *Target) Prepare(ctx context.Context, scope string, tables []*router.TableSchema) error {
	conn, err := t.connect(ctx)
	if err != nil {
		return err
	}
	if err := t.ensureScopeInfo(ctx, conn); err != nil {
		return err
	}
	return t.tables.Prepare(tables, func(ts *router.TableSchema) (*table, error) {
		return t.prepareTable(ctx, conn, ts)
	})
}

// prepareTable checks or creates the target table of ts and describes it.
func (t *Target) prepareTable(ctx context.Context, conn *pgx.Conn, ts *router.TableSchema) (*table, error) {
	ct, err := plan.PrepareTable(ts, plan.TableDDL[*catalogTable]{
		Target: t.cfg.Name, Table: ts.Target, CreateTables: t.cfg.CreateTables, UniqueIndex: "unique index",
		Lookup:     func() (*catalogTable, error) { return lookupTable(ctx, conn, ts.Target) },
		Create:     func() error { return t.createTable(ctx, conn, ts) },
		AddColumns: func(missing []string) error { return t.addColumns(ctx, conn, ts, missing) },
	})
	if err != nil {
		return nil, err
	}
	oids := make([]uint32, 0, len(ts.Columns))
	for _, c := range ts.Columns {
		oids = append(oids, ct.Columns[c.Name])
	}
	types, err := loadTypes(ctx, conn, oids)
	if err != nil {
		return nil, err
	}
	if len(ct.Cascading) > 0 {
		t.log.Warn("foreign keys that reference a target table delete or change their rows on delete; a truncate, written as DELETE, applies that to them",
			"table", ts.Target.String(), "foreign_keys", ct.Cascading)
	}
	return newTable(ts, ct, types)
}

// createTable creates the table of ts, and its schema if missing, with
// the published columns and their source types; types the target does
// not know become text.
func (t *Target) createTable(ctx context.Context, conn *pgx.Conn, ts *router.TableSchema) error {
	types, err := t.columnTypes(ctx, conn, ts, ts.Columns)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", pgx.Identifier{ts.Target.Schema, ts.Target.Name}.Sanitize())
	for i, c := range ts.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(c.Name) + " " + types[i])
	}
	b.WriteString(plan.KeyClause(ts.Key, quote))
	b.WriteString(")")
	err = withDDL(ctx, conn, func(tx pgx.Tx) error {
		if err := ensureSchema(ctx, tx, ts.Target.Schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, b.String())
		return err
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", ts.Target, err)
	}
	t.log.Info("created target table", "table", ts.Target.String())
	return nil
}

// columnTypes returns the target types of cols of ts, for create_tables.
// The type text is spliced into DDL only once to_regtype has parsed it as
// exactly one type name; types the target does not know become text.
func (t *Target) columnTypes(ctx context.Context, conn *pgx.Conn, ts *router.TableSchema, cols []router.ColumnSchema) ([]string, error) {
	types := make([]string, 0, len(cols))
	for _, c := range cols {
		typ, err := columnType(ts.SourceKind, c.Type)
		if err != nil {
			return nil, retry.Terminal(fmt.Errorf("create column %s of %s at target %s: %w", c.Name, ts.Target, t.cfg.Name, err))
		}
		types = append(types, typ)
	}
	known, err := knownTypes(ctx, conn, slices.Compact(slices.Sorted(slices.Values(types))))
	if err != nil {
		return nil, err
	}
	for i, typ := range types {
		if !known[typ] {
			t.log.Warn("target does not know a column's type; creating the column as text",
				"table", ts.Target.String(), "column", cols[i].Name, "type", typ)
			types[i] = "text"
		}
	}
	return types, nil
}

// addColumns adds the published columns named missing to the target
// table of ts: the source added them (ALTER TABLE ... ADD COLUMN).
func (t *Target) addColumns(ctx context.Context, conn *pgx.Conn, ts *router.TableSchema, missing []string) error {
	var cols []router.ColumnSchema
	for _, name := range missing {
		cols = append(cols, *ts.Column(name))
	}
	types, err := t.columnTypes(ctx, conn, ts, cols)
	if err != nil {
		return err
	}
	table := pgx.Identifier{ts.Target.Schema, ts.Target.Name}.Sanitize()
	err = withDDL(ctx, conn, func(tx pgx.Tx) error {
		for i, c := range cols {
			if _, err := tx.Exec(ctx, "ALTER TABLE "+table+" ADD COLUMN IF NOT EXISTS "+quote(c.Name)+" "+types[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add columns %s to %s: %w", strings.Join(missing, ", "), ts.Target, err)
	}
	t.log.Info("added columns to target table", "table", ts.Target.String(), "columns", missing)
	return nil
}

// withDDL runs f in a transaction holding syncd's DDL lock.
func withDDL(ctx context.Context, conn *pgx.Conn, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_catalog.pg_advisory_xact_lock($1)`, int64(ddlLock)); err != nil {
			return err
		}
		return f(tx)
	})
}

// ensureSchema creates schema unless it exists. It looks first, so that
// a role without the CREATE privilege on the database can use existing
// schemas.
func ensureSchema(ctx context.Context, tx pgx.Tx, schema string) error {
	var exists bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, schema).Scan(&exists)
	if err != nil {
		return fmt.Errorf("look up schema %s: %w", schema, err)
	}
	if exists {
		return nil
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quote(schema)); err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	return nil
}

// quote returns the quoted identifier name.
func quote(name string) string { return pgx.Identifier{name}.Sanitize() }
