package sqlserver

import (
	"context"

	"github.com/syncd-dev/syncd/capture"
)

// Tracker is the small interface the capture loop reads change tracking
// through. mssqlTracker implements it over go-mssqldb; the tests implement
// it with a model of change tracking.
type Tracker interface {
	// Begin starts one poll: a read-only transaction at SNAPSHOT
	// isolation, so that every read of the poll sees the same database
	// state (Microsoft recommends it for consistent change tracking
	// reads). The caller closes the Poll.
	Begin(ctx context.Context) (Poll, error)
}

// Poll is one consistent read of change tracking and of the tables.
type Poll interface {
	// CurrentVersion is CHANGE_TRACKING_CURRENT_VERSION(); ok is false when
	// it is NULL, that is when change tracking is off for the database.
	CurrentVersion(ctx context.Context) (v int64, ok bool, err error)
	// MinValidVersion is CHANGE_TRACKING_MIN_VALID_VERSION of t; ok is
	// false when it is NULL (tracking off for t, or no permission).
	MinValidVersion(ctx context.Context, t *Table) (v int64, ok bool, err error)
	// Changes calls fn for every net change of t after version since and
	// at or before upTo, in version order, then key order.
	Changes(ctx context.Context, t *Table, since, upTo int64, fn func(ChangeRow) error) error
	// Chunk returns up to limit rows of t in primary key order, those after
	// the key after (nil: from the first), that satisfy where (empty: all),
	// a scope filter rendered in filter.SQLServer with placeholders
	// @p1..@pn binding args.
	Chunk(ctx context.Context, t *Table, after capture.Row, limit int, where string, args []any) ([]capture.Row, error)
	// Close ends the transaction; it changes nothing in the database.
	Close() error
}

// Table is a published table as the catalog describes it.
type Table struct {
	*capture.Table
	// ColumnIDs are the columns' column_id values, aligned with Columns:
	// what CHANGE_TRACKING_IS_COLUMN_IN_MASK takes.
	ColumnIDs []int
}

// ChangeRow is one row of CHANGETABLE(CHANGES t, @since) joined to t.
type ChangeRow struct {
	Version int64 // SYS_CHANGE_VERSION: the version of the row's last change
	Op      byte  // SYS_CHANGE_OPERATION: 'I', 'U' or 'D'
	Context []byte
	// Key holds the primary key values CHANGETABLE returns, aligned with
	// Table.Key.
	Key capture.Row
	// Row is the base table's current row, aligned with Table.Columns; nil
	// when the row is gone (the LEFT JOIN found none).
	Row capture.Row
	// Changed says, per column, whether CHANGE_TRACKING_IS_COLUMN_IN_MASK
	// finds it in SYS_CHANGE_COLUMNS. nil when SYS_CHANGE_COLUMNS is NULL:
	// every column may have changed.
	Changed []bool
}
