package plan

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint"
)

// ScopeInfo is a checkpoint.Record as the columns of a scope_info row
// hold it, one field per column. Engines keep the table, its DDL, the
// upsert that writes a row and each column's driver value; a column of
// their own may follow (MySQL's last_position_num, for ordering).
type ScopeInfo struct {
	Scope        string
	Source       string
	ScopeVersion int
	Definition   []byte // JSON; nil is NULL, which the upsert leaves as stored
	ColumnSchema []byte // JSON; nil is NULL, as Definition
	Position     string // capture.Position's text
	StreamSeq    uint64
	AppliedAt    time.Time // UTC
	TxnApplyMS   float64   // the transaction's apply time in milliseconds
	RowsApplied  int64
	SyncdVersion string
	// Backfill, BackfillTable and BackfillRows are the record's, Backfill
	// never "" (checkpoint.BackfillNone).
	Backfill      string
	BackfillTable string
	BackfillRows  int64
}

// ScopeInfoDialect is what differs between the engines' scope_info statements.
type ScopeInfoDialect struct {
	Text   string // the type of a short text column
	BigInt string // the type of a 64-bit integer column
	// AddColumn adds the column c (its definition) to table, a quoted
	// name, if it is missing.
	AddColumn func(table, c string) string
}

// BackfillColumns are the columns of a scope_info row that hold the
// backfill state, each a name and its definition in dialect d. Tables
// created before they existed get them by BackfillMigration.
func BackfillColumns(d ScopeInfoDialect) [][2]string {
	return [][2]string{
		{"backfill", d.Text + " NOT NULL DEFAULT '" + checkpoint.BackfillNone + "'"},
		{"backfill_table", d.Text + " NOT NULL DEFAULT ''"},
		{"backfill_rows", d.BigInt + " NOT NULL DEFAULT 0"},
	}
}

// BackfillDDL returns the definitions of the backfill columns, each line
// starting with a comma, for a CREATE TABLE.
func BackfillDDL(d ScopeInfoDialect) string {
	var b strings.Builder
	for _, c := range BackfillColumns(d) {
		fmt.Fprintf(&b, ",\n\t%-17s %s", c[0], c[1])
	}
	return b.String()
}

// BackfillMigration returns the statements that add the backfill
// columns to table (a quoted name) where they are missing, in place:
// rows already there read as no backfill.
func BackfillMigration(d ScopeInfoDialect, table string) []string {
	var out []string
	for _, c := range BackfillColumns(d) {
		out = append(out, d.AddColumn(table, c[0]+" "+c[1]))
	}
	return out
}

// BackfillArgs are the values of the backfill columns of si, in the
// order of BackfillColumns.
func (si *ScopeInfo) BackfillArgs() []any {
	return []any{si.Backfill, si.BackfillTable, si.BackfillRows}
}

// ReadScopeInfoSQL returns the query of the scope_info row of table (a
// quoted name) whose scope and source are the parameters p1 and p2. Its
// columns are Scan's.
func ReadScopeInfoSQL(table, p1, p2 string) string {
	return readScopeInfoSQL(table, p1, p2, `,
			backfill, backfill_table, backfill_rows`)
}

// ReadOldScopeInfoSQL is ReadScopeInfoSQL of a table created before the
// backfill columns and not migrated yet (BackfillMigration), such as
// `syncd plan` reads before a daemon of this version has run. Its columns
// are ScanOld's.
func ReadOldScopeInfoSQL(table, p1, p2 string) string {
	return readScopeInfoSQL(table, p1, p2, "")
}

func readScopeInfoSQL(table, p1, p2, backfill string) string {
	return fmt.Sprintf(`SELECT scope_version, definition, column_schema, last_position,
			last_stream_seq, last_applied_at, last_txn_apply_ms, rows_applied, syncd_version%s
			FROM %s WHERE scope = %s AND source = %s`, backfill, table, p1, p2)
}

// NewScopeInfo returns rec as a scope_info row; version is recorded as
// the syncd version where rec has none.
func NewScopeInfo(rec checkpoint.Record, version string) ScopeInfo {
	if rec.SyncdVersion != "" {
		version = rec.SyncdVersion
	}
	return ScopeInfo{
		Scope: rec.Scope, Source: rec.Source, ScopeVersion: rec.ScopeVersion,
		Definition: rec.Definition, ColumnSchema: rec.ColumnSchema,
		Position: rec.Position.String(), StreamSeq: rec.StreamSeq, AppliedAt: rec.AppliedAt.UTC(),
		TxnApplyMS:  float64(rec.TxnDuration) / float64(time.Millisecond),
		RowsApplied: rec.RowsApplied, SyncdVersion: version,
		Backfill: cmp.Or(rec.Backfill, checkpoint.BackfillNone), BackfillTable: rec.BackfillTable, BackfillRows: rec.BackfillRows,
	}
}

// Scan returns where a driver scans the columns of ReadScopeInfoSQL to.
func (si *ScopeInfo) Scan() []any {
	return []any{&si.ScopeVersion, &si.Definition, &si.ColumnSchema, &si.Position,
		&si.StreamSeq, &si.AppliedAt, &si.TxnApplyMS, &si.RowsApplied, &si.SyncdVersion,
		&si.Backfill, &si.BackfillTable, &si.BackfillRows}
}

// ScanOld returns where a driver scans the columns of ReadOldScopeInfoSQL
// to; the row has no backfill state (checkpoint.BackfillNone).
func (si *ScopeInfo) ScanOld() []any {
	si.Backfill, si.BackfillTable, si.BackfillRows = checkpoint.BackfillNone, "", 0
	scan := si.Scan()
	return scan[:len(scan)-len(si.BackfillArgs())]
}

// Record returns the checkpoint record of the row.
func (si *ScopeInfo) Record() (checkpoint.Record, error) {
	pos, err := capture.ParsePosition(si.Position)
	if err != nil {
		return checkpoint.Record{}, err
	}
	return checkpoint.Record{
		Scope: si.Scope, Source: si.Source, ScopeVersion: si.ScopeVersion,
		Definition: si.Definition, ColumnSchema: si.ColumnSchema,
		Position: pos, StreamSeq: si.StreamSeq, AppliedAt: si.AppliedAt.UTC(),
		TxnDuration:  time.Duration(math.Round(si.TxnApplyMS * float64(time.Millisecond))),
		RowsApplied:  si.RowsApplied,
		SyncdVersion: si.SyncdVersion,
		Backfill:     si.Backfill, BackfillTable: si.BackfillTable, BackfillRows: si.BackfillRows,
	}, nil
}

// JSONArg passes a JSON document as text, or NULL if there is none.
func JSONArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
