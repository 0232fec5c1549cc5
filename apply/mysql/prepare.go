package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
)

// Prepare implements apply.Target. It creates the scope_info table if it
// is missing, then checks each target table or, with CreateTables,
// creates it and its database or adds the published columns it lacks
// (plan.PrepareTable). A type MySQL cannot represent is, like the errors
// about the tables themselves, marked retry.Terminal.
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

// targetName is the MySQL name of a scope table's target: its schema is
// the database; without one, the DSN's database.
func (t *Target) targetName(id capture.TableID) (tableName, error) {
	n := tableName{db: id.Schema, name: id.Name}
	if n.db == "" {
		n.db = t.driverCfg.DBName
	}
	if n.db == "" {
		return n, retry.Terminal(fmt.Errorf("target %s: table %s names no database and the DSN selects none", t.cfg.Name, id))
	}
	return n, nil
}

// prepareTable checks or creates the target table of ts and describes it.
func (t *Target) prepareTable(ctx context.Context, db *sql.DB, ts *router.TableSchema) (*table, error) {
	name, err := t.targetName(ts.Target)
	if err != nil {
		return nil, err
	}
	ct, err := plan.PrepareTable(ts, plan.TableDDL[*catalogTable]{
		Target: t.cfg.Name, Table: name, CreateTables: t.cfg.CreateTables, UniqueIndex: "unique index",
		Lookup:     func() (*catalogTable, error) { return lookupTable(ctx, db, name) },
		Create:     func() error { return t.createTable(ctx, db, name, ts) },
		AddColumns: func(missing []string) error { return t.addColumns(ctx, db, name, ts, missing) },
	})
	if err != nil {
		return nil, err
	}
	tb, err := newTable(ts, name, ct, t.server)
	if err != nil {
		return nil, retry.Terminal(err)
	}
	return tb, nil
}

// createTable creates the table of ts, and its database if missing, with
// the published columns in order, their types mapped from the source's
// (mapType), nullable but for the key, and a binary collation. A type
// with no faithful MySQL type fails, naming the column.
func (t *Target) createTable(ctx context.Context, db *sql.DB, name tableName, ts *router.TableSchema) error {
	ddl, err := createTableSQL(name, ts, t.server, t.log)
	if err != nil {
		return retry.Terminal(fmt.Errorf("create table %s at target %s: %w", name, t.cfg.Name, err))
	}
	if err := t.ensureDatabase(ctx, db, name.db); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	t.log.Info("created target table", "table", name.String())
	return nil
}

// addColumns adds the published columns named missing to the target
// table: the source table gained them (ALTER TABLE ... ADD COLUMN). They
// are nullable, with types mapped as createTable maps them.
func (t *Target) addColumns(ctx context.Context, db *sql.DB, name tableName, ts *router.TableSchema, missing []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "ALTER TABLE %s", name.quoted())
	for i, col := range missing {
		c := ts.Column(col)
		m, err := mapType(ts.SourceKind, c.Type, false)
		if err != nil {
			return retry.Terminal(fmt.Errorf("add column %s to %s at target %s: %w", col, name, t.cfg.Name, err))
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" ADD COLUMN ")
		if t.server.mariaDB { // MySQL has no IF NOT EXISTS here; Prepare checked the column is missing
			b.WriteString("IF NOT EXISTS ")
		}
		b.WriteString(quote(col) + " " + m.ddl + " NULL")
	}
	if _, err := db.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("add columns %s to %s: %w", strings.Join(missing, ", "), name, err)
	}
	t.log.Info("added columns to target table", "table", name.String(), "columns", missing)
	return nil
}

// ensureDatabase creates a database unless it exists. It looks first, so
// that a user without the CREATE privilege on the server can use
// existing databases.
func (t *Target) ensureDatabase(ctx context.Context, db *sql.DB, name string) error {
	ok, err := databaseExists(ctx, db, name)
	if err != nil || ok {
		return err
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quote(name)+" CHARACTER SET utf8mb4"); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	t.log.Info("created target database", "database", name)
	return nil
}

// maxRowBytes is what syncd lets the VARCHAR columns of a created table
// take of MySQL's 65,535-byte row limit; beyond, the widest become
// LONGTEXT.
const maxRowBytes = 60000

// logger is the part of hclog createTableSQL uses.
type logger interface {
	Info(msg string, args ...any)
}

// createTableSQL returns the CREATE TABLE statement of ts.
func createTableSQL(name tableName, ts *router.TableSchema, s *server, log logger) (string, error) {
	types := make([]mapped, len(ts.Columns))
	seen := map[string]string{}
	isKey := func(c string) bool {
		for _, k := range ts.Key {
			if k == c {
				return true
			}
		}
		return false
	}
	for i, c := range ts.Columns {
		if other, ok := seen[strings.ToLower(c.Name)]; ok {
			return "", fmt.Errorf("columns %s and %s are one name to MySQL, which ignores case in column names", other, c.Name)
		}
		seen[strings.ToLower(c.Name)] = c.Name
		m, err := mapType(ts.SourceKind, c.Type, isKey(c.Name))
		if err != nil {
			return "", fmt.Errorf("column %s: %w", c.Name, err)
		}
		if m.note != "" {
			log.Info("creating a column whose type differs from the source's", "table", name.String(), "column", c.Name,
				"source_type", c.Type, "type", m.ddl, "note", m.note)
		}
		types[i] = m
	}
	fitRow(ts, types, isKey)
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", name.quoted())
	for i, c := range ts.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(c.Name) + " " + types[i].ddl)
		if isKey(c.Name) {
			b.WriteString(" NOT NULL")
		} else {
			// Explicit NULL: a TIMESTAMP column would otherwise be NOT
			// NULL with an automatic default on servers with
			// explicit_defaults_for_timestamp off.
			b.WriteString(" NULL")
		}
	}
	b.WriteString(plan.KeyClause(ts.Key, quote))
	fmt.Fprintf(&b, ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=%s", s.binCollation())
	return b.String(), nil
}

// fitRow turns the widest non-key VARCHAR columns into LONGTEXT until the
// VARCHARs fit maxRowBytes (4 bytes a character in utf8mb4).
func fitRow(ts *router.TableSchema, types []mapped, isKey func(string) bool) {
	width := func(m mapped) int {
		var n int
		if _, err := fmt.Sscanf(m.ddl, "VARCHAR(%d)", &n); err != nil {
			return 0
		}
		return 4*n + 2
	}
	for {
		total, widest := 0, -1
		for i, m := range types {
			w := width(m)
			total += w
			if w > 0 && !isKey(ts.Columns[i].Name) && (widest < 0 || w > width(types[widest])) {
				widest = i
			}
		}
		if total <= maxRowBytes || widest < 0 {
			return
		}
		types[widest].ddl = "LONGTEXT"
	}
}
