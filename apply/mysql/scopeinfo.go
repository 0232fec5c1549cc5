package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
	"github.com/syncd-dev/syncd/checkpoint"
)

// scopeInfoDDL creates the scope_info table (%s: its quoted name). Its
// columns are those of apply/postgres, one per field of
// checkpoint.Record, plus last_position_num, the position as a number,
// for ordering. Names are compared byte for byte (utf8mb4_bin).
// definition and column_schema are JSON: on MariaDB a LONGTEXT that
// keeps the text as written; MySQL normalizes JSON (key order, spaces).
//
// %[1]s is the table's quoted name, %[2]s the backfill columns
// (plan.BackfillDDL).
const scopeInfoDDL = `CREATE TABLE IF NOT EXISTS %[1]s (
	scope             VARCHAR(255) NOT NULL,
	source            VARCHAR(255) NOT NULL,
	scope_version     INT NOT NULL,
	definition        JSON NULL,
	column_schema     JSON NULL,
	last_position     VARCHAR(32) NOT NULL,
	last_position_num BIGINT UNSIGNED NOT NULL,
	last_stream_seq   BIGINT UNSIGNED NOT NULL,
	last_applied_at   DATETIME(6) NOT NULL,
	last_txn_apply_ms DOUBLE NOT NULL,
	rows_applied      BIGINT NOT NULL,
	syncd_version     VARCHAR(255) NOT NULL%[2]s,
	PRIMARY KEY (scope, source)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`

// scopeInfoDialect is MySQL's and MariaDB's part of the scope_info
// statements. MySQL has no ADD COLUMN IF NOT EXISTS: ensureScopeInfo
// adds only the columns it finds missing.
var scopeInfoDialect = plan.ScopeInfoDialect{Text: "VARCHAR(255)", BigInt: "BIGINT",
	AddColumn: func(table, c string) string { return "ALTER TABLE " + table + " ADD COLUMN " + c }}

// scopeInfoSQL are the statements on the scope_info table.
type scopeInfoSQL struct {
	create          string
	migrate         []string // adds a backfill column, in the order of plan.BackfillColumns
	readCheckpoint  sqltx.CheckpointRead
	writeCheckpoint string
	mark            string // see mark
}

// newScopeInfoSQL returns the statements on the table name at server s.
func newScopeInfoSQL(name tableName, s *server) scopeInfoSQL {
	id := name.quoted()
	set := []string{"scope_version", "definition", "column_schema", "last_position", "last_position_num",
		"last_stream_seq", "last_applied_at", "last_txn_apply_ms", "rows_applied", "syncd_version",
		"backfill", "backfill_table", "backfill_rows"}
	write := fmt.Sprintf(`INSERT INTO %s (scope, source, scope_version, definition, column_schema, last_position,
		last_position_num, last_stream_seq, last_applied_at, last_txn_apply_ms, rows_applied, syncd_version,
		backfill, backfill_table, backfill_rows)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id)
	if s.rowAlias {
		write += " AS " + rowAlias
	}
	write += " ON DUPLICATE KEY UPDATE "
	for i, c := range set {
		if i > 0 {
			write += ", "
		}
		switch c {
		case "definition", "column_schema": // NULL: keep the stored one
			write += c + " = COALESCE(" + newValue(s, c) + ", " + c + ")"
		default:
			write += c + " = " + newValue(s, c)
		}
	}
	return scopeInfoSQL{
		create:  fmt.Sprintf(scopeInfoDDL, id, plan.BackfillDDL(scopeInfoDialect)),
		migrate: plan.BackfillMigration(scopeInfoDialect, id),
		readCheckpoint: sqltx.CheckpointRead{
			Query: plan.ReadScopeInfoSQL(id, "?", "?"), OldQuery: plan.ReadOldScopeInfoSQL(id, "?", "?"), Table: name,
			NoTable: func(err error) bool {
				var me *mysql.MySQLError
				return errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049) // no such table, no such database
			},
			NoColumn: func(err error) bool {
				var me *mysql.MySQLError
				return errors.As(err, &me) && me.Number == 1054 // unknown column
			},
		},
		writeCheckpoint: write,
		mark: fmt.Sprintf(`INSERT INTO %s (scope, source, scope_version, last_position, last_position_num,
		last_stream_seq, last_applied_at, last_txn_apply_ms, rows_applied, syncd_version)
		VALUES (?, ?, 0, '', 0, 0, UTC_TIMESTAMP(6), -1, 0, ?) ON DUPLICATE KEY UPDATE last_txn_apply_ms = -1`, id),
	}
}

// ensureScopeInfo creates the scope_info table, and its database, if they
// are missing.
func (t *Target) ensureScopeInfo(ctx context.Context, db *sql.DB) error {
	ct, err := lookupTable(ctx, db, t.scopeInfo)
	if err == nil {
		return t.migrateScopeInfo(ctx, db, ct)
	}
	if !errors.Is(err, plan.ErrNoTable) {
		return err
	}
	if err := t.ensureDatabase(ctx, db, t.scopeInfo.db); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, t.sql.create); err != nil {
		return fmt.Errorf("create table %s: %w", t.scopeInfo, err)
	}
	t.log.Info("created the scope_info table", "table", t.scopeInfo.String())
	return nil
}

// migrateScopeInfo adds to ct, the scope_info table, the backfill
// columns it lacks (a table created by an earlier syncd).
func (t *Target) migrateScopeInfo(ctx context.Context, db *sql.DB, ct *catalogTable) error {
	for i, c := range plan.BackfillColumns(scopeInfoDialect) {
		if _, ok := ct.columns[c[0]]; ok {
			continue
		}
		if _, err := db.ExecContext(ctx, t.sql.migrate[i]); err != nil {
			return fmt.Errorf("add column %s to %s: %w", c[0], t.scopeInfo, err)
		}
		t.log.Info("added a backfill column to the scope_info table", "table", t.scopeInfo.String(), "column", c[0])
	}
	return nil
}

// Checkpoint implements apply.Target. A missing scope_info table, or
// database, is no error: there is no checkpoint yet; one without the
// backfill columns is read as it is (sqltx.ReadCheckpoint).
func (t *Target) Checkpoint(ctx context.Context, scope, source string) (checkpoint.Record, bool, error) {
	db, err := t.connect(ctx)
	if err != nil {
		return checkpoint.Record{}, false, err
	}
	return sqltx.ReadCheckpoint(ctx, db, t.sql.readCheckpoint, scope, source)
}

// writeCheckpoint returns the statement that writes rec as its scope's
// scope_info row.
func (t *Target) writeCheckpoint(rec checkpoint.Record) sqltx.Stmt {
	si := plan.NewScopeInfo(rec, t.cfg.SyncdVersion)
	return sqltx.Stmt{SQL: t.sql.writeCheckpoint, Args: []any{
		si.Scope, si.Source, int64(si.ScopeVersion), plan.JSONArg(si.Definition), plan.JSONArg(si.ColumnSchema),
		si.Position, uint64(rec.Position), si.StreamSeq, si.AppliedAt.Format(mysqlDateTime),
		si.TxnApplyMS, si.RowsApplied, si.SyncdVersion, si.Backfill, si.BackfillTable, si.BackfillRows,
	}}
}
