package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/checkpoint"
)

// scopeInfoColumns are the scope_info table's columns, one per field of
// checkpoint.Record, in the order of scopeInfoDDL.
const scopeInfoColumns = `scope, source, scope_version, definition, column_schema, last_position,
	last_stream_seq, last_applied_at, last_txn_apply_ms, rows_applied, syncd_version,
	backfill, backfill_table, backfill_rows`

// scopeInfoDialect is PostgreSQL's part of the scope_info statements.
var scopeInfoDialect = plan.ScopeInfoDialect{Text: "text", BigInt: "bigint",
	AddColumn: func(table, c string) string { return "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + c }}

// scopeInfoDDL creates the scope_info table (%[1]s: its quoted name;
// %[2]s: the backfill columns, plan.BackfillDDL).
const scopeInfoDDL = `CREATE TABLE IF NOT EXISTS %[1]s (
	scope             text NOT NULL,
	source            text NOT NULL,
	scope_version     integer NOT NULL,
	definition        jsonb,
	column_schema     jsonb,
	last_position     text NOT NULL,
	last_stream_seq   bigint NOT NULL,
	last_applied_at   timestamptz NOT NULL,
	last_txn_apply_ms double precision NOT NULL,
	rows_applied      bigint NOT NULL,
	syncd_version     text NOT NULL%[2]s,
	PRIMARY KEY (scope, source)
)`

// scopeInfoSQL are the statements on the scope_info table.
type scopeInfoSQL struct {
	create          string
	migrate         []string // adds the backfill columns to an older table
	readCheckpoint  string
	readOld         string // readCheckpoint of a table without the backfill columns
	writeCheckpoint string
}

// newScopeInfoSQL returns the statements on the table name.
func newScopeInfoSQL(name pgx.Identifier) scopeInfoSQL {
	id := name.Sanitize()
	return scopeInfoSQL{
		create:         fmt.Sprintf(scopeInfoDDL, id, plan.BackfillDDL(scopeInfoDialect)),
		migrate:        plan.BackfillMigration(scopeInfoDialect, id),
		readCheckpoint: plan.ReadScopeInfoSQL(id, "$1", "$2"),
		readOld:        plan.ReadOldScopeInfoSQL(id, "$1", "$2"),
		writeCheckpoint: fmt.Sprintf(`INSERT INTO %s AS si (%s)
			VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (scope, source) DO UPDATE SET
			scope_version = excluded.scope_version,
			definition = coalesce(excluded.definition, si.definition),
			column_schema = coalesce(excluded.column_schema, si.column_schema),
			last_position = excluded.last_position,
			last_stream_seq = excluded.last_stream_seq, last_applied_at = excluded.last_applied_at,
			last_txn_apply_ms = excluded.last_txn_apply_ms, rows_applied = excluded.rows_applied,
			syncd_version = excluded.syncd_version, backfill = excluded.backfill,
			backfill_table = excluded.backfill_table, backfill_rows = excluded.backfill_rows`, id, scopeInfoColumns),
	}
}

// ensureScopeInfo creates the scope_info table, and its schema, if they
// are missing, and adds the backfill columns to a table created before
// them. The ALTER TABLE, which waits for the other scopes' open
// transactions on the table, runs only when a column is missing.
func (t *Target) ensureScopeInfo(ctx context.Context, conn *pgx.Conn) error {
	var exists, current bool
	err := conn.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL,
		EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = pg_catalog.to_regclass($1)
			AND attname = 'backfill_rows' AND NOT attisdropped)`, t.scopeInfo.Sanitize()).Scan(&exists, &current)
	if err != nil {
		return fmt.Errorf("look up table %s: %w", t.cfg.ScopeInfoTable, err)
	}
	if exists && current {
		return nil
	}
	if exists {
		for _, stmt := range t.sql.migrate {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("add the backfill columns to %s: %w", t.cfg.ScopeInfoTable, err)
			}
		}
		t.log.Info("added the backfill columns to the scope_info table", "table", t.cfg.ScopeInfoTable)
		return nil
	}
	err = withDDL(ctx, conn, func(tx pgx.Tx) error {
		if len(t.scopeInfo) == 2 {
			if err := ensureSchema(ctx, tx, t.scopeInfo[0]); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, t.sql.create)
		return err
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", t.cfg.ScopeInfoTable, err)
	}
	t.log.Info("created the scope_info table", "table", t.cfg.ScopeInfoTable)
	return nil
}

// Checkpoint implements apply.Target. A missing scope_info table is no
// error: there is no checkpoint yet. One created before the backfill
// columns and not migrated yet (Prepare) is read as it is: its rows have
// no backfill state.
func (t *Target) Checkpoint(ctx context.Context, scope, source string) (checkpoint.Record, bool, error) {
	conn, err := t.connect(ctx)
	if err != nil {
		return checkpoint.Record{}, false, err
	}
	si := plan.ScopeInfo{Scope: scope, Source: source}
	err = conn.QueryRow(ctx, t.sql.readCheckpoint, scope, source).Scan(si.Scan()...)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42703" { // undefined_column: not migrated yet
		err = conn.QueryRow(ctx, t.sql.readOld, scope, source).Scan(si.ScanOld()...)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows), errors.As(err, &pe) && pe.Code == "42P01": // undefined_table
		return checkpoint.Record{}, false, nil
	case err != nil:
		return checkpoint.Record{}, false, fmt.Errorf("read checkpoint of scope %s from %s: %w", scope, t.cfg.ScopeInfoTable, err)
	}
	rec, err := si.Record()
	if err != nil {
		return checkpoint.Record{}, false, fmt.Errorf("read checkpoint of scope %s from %s: %w", scope, t.cfg.ScopeInfoTable, err)
	}
	return rec, true, nil
}

// writeCheckpoint returns the statement that writes rec as its scope's
// scope_info row, keeping the stored definition or column schema where
// rec has none.
func (t *Target) writeCheckpoint(rec checkpoint.Record) queued {
	si := plan.NewScopeInfo(rec, t.cfg.SyncdVersion)
	return queued{sql: t.sql.writeCheckpoint, args: []any{
		si.Scope, si.Source, si.ScopeVersion, plan.JSONArg(si.Definition), plan.JSONArg(si.ColumnSchema),
		si.Position, int64(si.StreamSeq), si.AppliedAt, si.TxnApplyMS, si.RowsApplied, si.SyncdVersion,
		si.Backfill, si.BackfillTable, si.BackfillRows,
	}}
}
