package sqlserver

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
	"github.com/syncd-dev/syncd/checkpoint"
)

// scopeInfoDDL creates the scope_info table (%s: its quoted name). Its
// columns are those of apply/postgres, one per field of
// checkpoint.Record. Names are compared code point by code point
// (textCollation). last_stream_seq is a DECIMAL(20,0): SQL Server has no
// unsigned 64-bit integer. %[1]s is the table's quoted name, %[2]s the
// backfill columns (plan.BackfillDDL).
const scopeInfoDDL = `CREATE TABLE %[1]s (
	scope             NVARCHAR(255) COLLATE ` + textCollation + ` NOT NULL,
	source            NVARCHAR(255) COLLATE ` + textCollation + ` NOT NULL,
	scope_version     INT NOT NULL,
	definition        NVARCHAR(MAX) NULL,
	column_schema     NVARCHAR(MAX) NULL,
	last_position     VARCHAR(32) NOT NULL,
	last_stream_seq   DECIMAL(20,0) NOT NULL,
	last_applied_at   DATETIME2(7) NOT NULL,
	last_txn_apply_ms FLOAT NOT NULL,
	rows_applied      BIGINT NOT NULL,
	syncd_version     NVARCHAR(255) NOT NULL%[2]s,
	PRIMARY KEY (scope, source)
)`

// scopeInfoColumns are the columns the checkpoint writes, in the order
// of its parameters; scope and source, the key, come first.
var scopeInfoColumns = []string{"scope", "source", "scope_version", "definition", "column_schema", "last_position",
	"last_stream_seq", "last_applied_at", "last_txn_apply_ms", "rows_applied", "syncd_version",
	"backfill", "backfill_table", "backfill_rows"}

// scopeInfoDialect is SQL Server's part of the scope_info statements:
// COL_LENGTH is NULL for a missing column.
var scopeInfoDialect = plan.ScopeInfoDialect{Text: "NVARCHAR(255)", BigInt: "BIGINT",
	AddColumn: func(table, c string) string {
		name, _, _ := strings.Cut(c, " ")
		return "IF COL_LENGTH(N'" + strings.ReplaceAll(table, "'", "''") + "', N'" + name + "') IS NULL ALTER TABLE " + table + " ADD " + c
	}}

// scopeInfoSQL are the statements on the scope_info table.
type scopeInfoSQL struct {
	create          string
	migrate         []string // adds the backfill columns to an older table
	readCheckpoint  sqltx.CheckpointRead
	writeCheckpoint string
}

// newScopeInfoSQL returns the statements on the table name. The write is
// an upsert of one row as statements.go writes upserts: an UPDATE under
// UPDLOCK and SERIALIZABLE, then an INSERT if it found no row. A NULL
// definition or column_schema keeps the stored one.
func newScopeInfoSQL(name tableName) scopeInfoSQL {
	id := name.quoted()
	write := fmt.Sprintf("UPDATE %s WITH (UPDLOCK, SERIALIZABLE) SET ", id)
	for i, c := range scopeInfoColumns[2:] {
		if i > 0 {
			write += ", "
		}
		p := fmt.Sprintf("@p%d", i+3)
		switch c {
		case "definition", "column_schema": // NULL: keep the stored one
			write += fmt.Sprintf("%s = COALESCE(%s, %s)", c, p, c)
		default:
			write += c + " = " + p
		}
	}
	write += " WHERE scope = @p1 AND source = @p2;\nIF @@ROWCOUNT = 0\n"
	write += fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", id, strings.Join(scopeInfoColumns, ", "), params(1, len(scopeInfoColumns)))
	return scopeInfoSQL{
		create:  fmt.Sprintf(scopeInfoDDL, id, plan.BackfillDDL(scopeInfoDialect)),
		migrate: plan.BackfillMigration(scopeInfoDialect, id),
		readCheckpoint: sqltx.CheckpointRead{
			Query: plan.ReadScopeInfoSQL(id, "@p1", "@p2"), OldQuery: plan.ReadOldScopeInfoSQL(id, "@p1", "@p2"), Table: name,
			NoTable:  func(err error) bool { return slices.Contains(serverErrors(err), errInvalidObject) },
			NoColumn: func(err error) bool { return slices.Contains(serverErrors(err), errInvalidColumn) },
		},
		writeCheckpoint: write,
	}
}

// ensureScopeInfo creates the scope_info table, and its schema, if they
// are missing, and adds the backfill columns to one created before them.
func (t *Target) ensureScopeInfo(ctx context.Context, db *sql.DB) error {
	ok, err := tableExists(ctx, db, t.scopeInfo)
	if err != nil {
		return err
	}
	if ok { // a table of an earlier syncd lacks the backfill columns
		for _, stmt := range t.sql.migrate {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("add the backfill columns to %s: %w", t.scopeInfo, err)
			}
		}
		return nil
	}
	if err := t.ensureSchema(ctx, db, t.scopeInfo.schema); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, t.sql.create); err != nil {
		return fmt.Errorf("create table %s: %w", t.scopeInfo, err)
	}
	t.log.Info("created the scope_info table", "table", t.scopeInfo.String())
	return nil
}

// errInvalidObject is SQL Server's "Invalid object name" (208): a
// missing table.
const errInvalidObject = 208

// errInvalidColumn is SQL Server's error of a column that does not exist.
const errInvalidColumn = 207

// Checkpoint implements apply.Target. A missing scope_info table is no
// error: there is no checkpoint yet; one without the backfill columns is
// read as it is (sqltx.ReadCheckpoint).
func (t *Target) Checkpoint(ctx context.Context, scope, source string) (checkpoint.Record, bool, error) {
	db, err := t.connect(ctx)
	if err != nil {
		return checkpoint.Record{}, false, err
	}
	return sqltx.ReadCheckpoint(ctx, db, t.sql.readCheckpoint, scope, source)
}

// writeCheckpoint returns the statement that writes rec as its scope's
// scope_info row. The stream sequence goes as text (go-mssqldb sends no
// unsigned 64-bit integers), the time as ISO 8601 text, which
// DATETIME2 reads whatever the session's language and DATEFORMAT.
func (t *Target) writeCheckpoint(rec checkpoint.Record) sqltx.Stmt {
	return sqltx.Stmt{SQL: t.sql.writeCheckpoint, Args: scopeInfoArgs(plan.NewScopeInfo(rec, t.cfg.SyncdVersion))}
}

// scopeInfoArgs are the parameters of the checkpoint's write, in the
// order of scopeInfoColumns.
func scopeInfoArgs(si plan.ScopeInfo) []any {
	return []any{
		si.Scope, si.Source, int64(si.ScopeVersion), plan.JSONArg(si.Definition), plan.JSONArg(si.ColumnSchema),
		si.Position, strconv.FormatUint(si.StreamSeq, 10), si.AppliedAt.Format(isoDateTime),
		si.TxnApplyMS, si.RowsApplied, si.SyncdVersion, si.Backfill, si.BackfillTable, si.BackfillRows,
	}
}

// isoDateTime is how date and time values are written: ISO 8601, which
// DATETIME2 and DATETIMEOFFSET read regardless of language settings
// (https://learn.microsoft.com/en-us/sql/t-sql/data-types/datetime2-transact-sql).
const isoDateTime = "2006-01-02T15:04:05.9999999"
