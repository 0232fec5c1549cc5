package checkpoint

import (
	"encoding/json"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

// Record is one row of a target's scope_info table: how far one scope of
// one source is applied there. Apply workers write it in the same target
// transaction as the rows it describes, so it is exactly as durable as
// they are (DESIGN.md §6).
type Record struct {
	Scope  string
	Source string
	// ScopeVersion and Definition are the scope's version and definition
	// (JSON) as they were when the rows were applied.
	ScopeVersion int
	Definition   json.RawMessage
	// ColumnSchema is the JSON of the scope's tables and columns.
	//
	// In a record to be written, a nil Definition or ColumnSchema leaves
	// the one stored as it is: workers send them only when they differ
	// from what the target holds, not with every commit.
	ColumnSchema json.RawMessage
	// Position is the source position of the last source transaction
	// applied in full. Messages at or below it are skipped on restart.
	Position capture.Position
	// StreamSeq is the stream sequence of that transaction's last message.
	StreamSeq uint64
	// AppliedAt is when that transaction was committed at the target.
	AppliedAt time.Time
	// TxnDuration is how long the last target transaction took to apply.
	TxnDuration time.Duration
	// RowsApplied counts the row changes applied since the scope began.
	RowsApplied int64
	// SyncdVersion is the version of syncd that wrote the record.
	SyncdVersion string
	// Backfill is the state of the scope's last table copy applied at
	// the target (BackfillNone, BackfillRunning, BackfillDone; "" reads
	// as none), BackfillTable that table (schema.table) and BackfillRows
	// the rows of that copy applied so far. A copy is running from its
	// first snapshot transaction applied, and done once the one with
	// txn.copy_end is (docs/wire-format.md).
	Backfill      string
	BackfillTable string
	BackfillRows  int64
}

// Backfill states of a Record.
const (
	BackfillNone    = "none"
	BackfillRunning = "running"
	BackfillDone    = "done"
)
