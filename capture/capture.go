// Package capture defines what every capture engine produces: row change
// events in source commit order, grouped in transactions, and the Sink that
// receives them.
//
// Engines live in subpackages named after the technology (capture/postgres).
// This package imports no database driver.
package capture

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// Op is the kind of a row change. Its value is the letter used on the wire
// (subjects, Syncd-Op header, envelope "op").
type Op byte

// Row change kinds.
const (
	OpInsert   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r' // a row read by a snapshot
	OpTruncate Op = 't'
	// OpCopyEnd ends a table's copy that sends no row in its last
	// snapshot transaction (see Txn.CopyEnd): it changes no row.
	OpCopyEnd Op = 'e'
)

func (o Op) String() string { return string(rune(o)) }

// Txn is one source transaction. All events of a transaction share one *Txn.
type Txn struct {
	// ID is the source's transaction id (PostgreSQL xid), as text.
	ID string
	// Pos identifies the transaction and orders it among the source's
	// transactions. PostgreSQL: the LSN of the commit record.
	Pos Position
	// Ack is the position to confirm to the source once every change of the
	// transaction is durable downstream. PostgreSQL: the end of the commit record.
	Ack Position
	// CommitTime is when the source committed the transaction.
	CommitTime time.Time
	// Origin is the replication origin the transaction came from, if any.
	// Bidirectional setups use it to avoid echoing changes back.
	Origin string
	// Snapshot marks the synthetic transactions of an initial snapshot.
	Snapshot bool
	// CopyEnd marks a snapshot transaction that ends a table's copy (its
	// last chunk, or a copy in one transaction): once it is applied, the
	// target holds the copy whole. Set before the transaction's Commit;
	// a copy that sends no row in it ends with an OpCopyEnd event
	// (EndCopy), so that the transaction is never empty.
	CopyEnd bool
}

// Event is one row change.
//
// Rows are slices aligned with Table.Columns. A value is one of:
//
//	nil                 SQL NULL
//	Absent              the source did not send this column (unchanged TOAST,
//	                    or a column outside the replica identity in an old row)
//	bool
//	int32               integers of 32 bits or fewer (smallint, integer)
//	int64               64-bit integers (bigint); on the wire as strings,
//	                    since they may exceed 2^53
//	uint64              unsigned 64-bit integers; on the wire as strings
//	float32, float64    floating point; NaN and ±Inf included
//	Decimal             exact decimal numbers, as text
//	string              text types, and every type rendered as its text form
//	                    (uuid, date, time, interval, enum, inet, timestamp
//	                    without time zone as "2006-01-02T15:04:05.999999", ...)
//	[]byte              binary data
//	time.Time           instants (timestamp with time zone), in UTC
//	JSON                json and jsonb, as the JSON text
//	[]any               arrays, elements of the types above
type Event struct {
	Txn   *Txn
	Table *Table
	Op    Op
	// Before is the old row: nil for inserts and truncates, and for updates
	// when the source sends no old image (the key did not change and the
	// table has the default replica identity). With the default replica
	// identity only the key columns are present; the rest are Absent.
	Before Row
	// After is the new row: nil for deletes and truncates.
	After Row
	// Scope, when set, is the one scope the change is for: snapshot reads
	// are taken for one scope, not for every scope covering the table.
	Scope string
}

// Key returns the row that identifies the changed row's key: After for
// inserts, updates and reads, Before for deletes.
func (e *Event) Key() Row {
	if e.Op == OpDelete {
		return e.Before
	}
	return e.After
}

// Row is one row's values, aligned with its Table's Columns.
type Row []any

// Decimal is an exact decimal number in its text form ("199.90", "NaN").
type Decimal string

// JSON is a JSON document in its text form.
type JSON string

type absent struct{}

// Absent is the value of a column the source did not send.
var Absent any = absent{}

// Table describes one version of a source table. A new *Table is made
// whenever the source reports a schema change, so a *Table never changes
// and may be used as a cache key.
type Table struct {
	Schema  string
	Name    string
	Columns []Column
	// Key holds the indexes in Columns of the primary key, in key order.
	// It is empty for a table without a primary key.
	Key []int
}

// ID returns the table's schema-qualified name.
func (t *Table) ID() TableID { return TableID{Schema: t.Schema, Name: t.Name} }

// Column returns the index of the named column, or -1.
func (t *Table) Column(name string) int {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return i
		}
	}
	return -1
}

// Column describes one column of a source table.
type Column struct {
	Name string
	// Type is the source's type name with modifiers, e.g. "numeric(10,2)".
	Type string
}

// TableID names a table: schema (PostgreSQL schema, MySQL database) and name.
type TableID struct {
	Schema string
	Name   string
}

func (id TableID) String() string { return id.Schema + "." + id.Name }

// TableSpec is one table a source must publish, and what its scopes use
// of it.
type TableSpec struct {
	ID      TableID
	Scopes  []string // names of the scopes covering it, for messages
	Columns []string // columns the scopes list or filter on; checked to exist
	// TwoWay names the two-way scopes covering it (scopes.Config.TwoWay):
	// conflict detection needs the whole old row of every update and
	// delete, so the source refuses a table that does not log it.
	TwoWay []string
	// Check, if set, is called once at start, before anything is
	// provisioned, with the table as the source's catalog describes it:
	// its columns with their types named as the source publishes them,
	// and its primary key. Its error is a problem that fails the start.
	// Sources call it only for a table that has every column in Columns.
	Check func(t *Table) error
}

// Sink receives a source's changes in commit order. Calls come from one
// goroutine: Begin, then Change for each row change, then Commit; Flush and
// Drain only between transactions or when the source has nothing to read.
type Sink interface {
	// Begin starts a transaction.
	Begin(ctx context.Context, txn *Txn) error
	// Change passes one row change of the current transaction. The sink
	// must not keep ev or its rows after it returns. It may block while
	// the sink's in-flight window is full.
	Change(ctx context.Context, ev *Event) error
	// Commit ends the current transaction. From then on the sink tracks the
	// transaction until all its changes are durable, and reports txn.Ack
	// through Durable.
	Commit(ctx context.Context, txn *Txn) error
	// Flush sends whatever the sink has buffered. Sources call it when they
	// have nothing more to read for the moment.
	Flush(ctx context.Context) error
	// Drain flushes and waits until every change passed so far is durable,
	// or ctx is done.
	Drain(ctx context.Context) error
	// Durable returns the Ack of the last transaction of the contiguous
	// prefix of committed transactions that are durable downstream (zero if
	// none yet), and whether every committed transaction is durable.
	Durable() (ack Position, idle bool)
}

// SnapshotRequest asks a source to copy the current rows of one table
// into one scope: all of them (Truncate), or the difference a change of
// the scope's definition makes.
type SnapshotRequest struct {
	Scope string
	Table TableID
	// Truncate asks for a truncate before the rows: the copy replaces
	// whatever the targets hold (a scope's first copy of a table, a copy
	// taken again because the log is gone). Without it the copy is a diff
	// that leaves the rows it does not name as they are.
	Truncate bool
	// Where selects the rows to read (OpRead), rendered as SQL in the
	// source's dialect with its bind values appended to args; nil means
	// every row.
	Where func(args []any) (sql string, out []any)
	// ExitWhere, if not nil, selects the rows to delete (OpDelete, the row
	// as Before): rows that have left the scope. It is rendered as Where.
	ExitWhere func(args []any) (sql string, out []any)
	// InScope selects the rows of the scope's new definition, rendered as
	// Where; nil means every row. A chunked backfill reads again, with
	// it, the rows whose updates the sink dropped (see Snapshotter).
	InScope func(args []any) (sql string, out []any)
	// Resume is the state a chunked backfill of this request last
	// recorded (Snapshotter.SnapshotProgressed), to continue after the
	// last chunk recorded; nil to start from the beginning. A resumed
	// request does not truncate again: that was done before.
	Resume []byte
	// Target, if not empty, is the one target of the scope the copy is
	// for: a target added to the scope, or one `syncd resync` repairs.
	// Sources need not read it: they copy as for any request, and the
	// sink knows which request a snapshot transaction belongs to, since
	// it hands out at most one request per (Scope, Table) at a time.
	// (The PostgreSQL source copies such a request in one transaction:
	// the target replaces its rows in one target transaction.)
	Target string
}

// Snapshotter is implemented by sinks whose scopes want initial snapshots.
//
// A source takes a snapshot in one of two ways. Both send transactions
// with Snapshot set and all their events with Event.Scope set: a
// truncate if the request says Truncate, a delete (OpDelete) for every
// row ExitWhere selects, and a read (OpRead) for every row Where selects.
//
// One transaction: the whole copy is placed in the log at a point where
// it is exact: every change committed before it is in the copy, every
// change after it follows it.
//
// A chunked backfill, for tables with a primary key: the rows are read
// in key order, in chunks, each between a low and a high watermark that
// the source writes into its own log, while live changes keep flowing.
// A chunk goes out as one transaction at its high watermark, without the
// rows that changes committed in its window (or not yet visible to its
// read) touched: those changes carry them, except changes the sink
// dropped, before the truncate, whose rows the source reads again in a
// later chunk. The truncate, if any, goes out at the first low watermark. While a backfill of a table is open (from
// its first snapshot event to SnapshotDone), the sink must drop, for that
// scope, changes whose new row leaves values out (Absent: unchanged
// TOAST), since the row may not be at the targets yet; the source reads
// such rows again, with InScope, in a later chunk. After each chunk the
// source records its state with SnapshotProgressed.
type Snapshotter interface {
	// Snapshots returns the snapshots still to take. Until the snapshot
	// transaction of a Truncate request begins, the sink drops live
	// changes to its table for that scope: the snapshot will contain them.
	// It passes live changes on for a diff request. It may hold requests
	// back (at most one per Scope and Table is out at a time): a source
	// gets those through SnapshotAdder, or at its next start.
	Snapshots() []SnapshotRequest
	// SnapshotDone records that req's snapshot, of rows rows, is durable.
	// Sources call it after Drain; a snapshot not recorded done is taken
	// again after a restart.
	SnapshotDone(ctx context.Context, req SnapshotRequest, rows int64) error
	// SnapshotProgressed records the state of a chunked backfill of req,
	// of rows rows so far, once everything sent before it is durable; a
	// restart hands it back as SnapshotRequest.Resume.
	SnapshotProgressed(ctx context.Context, req SnapshotRequest, state []byte, rows int64) error
	// Resnapshot is called when the source's log no longer holds the
	// changes since its saved position (lost is why). If every scope of
	// the sink allows it, the sink forgets every snapshot taken, so that
	// Snapshots returns them all again, and returns nil; the source then
	// starts afresh from its snapshots. Otherwise it returns an error
	// that names the scopes that do not allow it. Calling it again before
	// the snapshots are taken changes nothing.
	Resnapshot(ctx context.Context, lost error) error
}

// A Pacer is a Snapshotter whose targets may fall behind a chunked
// backfill, which would make the changes that follow the chunks wait:
// sources call Pace, from any goroutine, before reading each chunk. It
// returns once the targets have applied enough of what was sent, or have
// been waited for long enough, or ctx's error.
type Pacer interface {
	Pace(ctx context.Context, req SnapshotRequest) error
}

// StreamingWindow is how long after the last change other than a
// backfill's a chunked backfill still takes its scope (or source) to be
// streaming, and so gives streaming changes priority: small chunks, no
// pacing slack. Changes a few chunks apart are then all served: judging
// by the last chunk alone, a change that came after a chunk during which
// none did met a large one ahead of it.
const StreamingWindow = 5 * time.Second

// SnapshotAdder is implemented by Snapshotters that take requests while
// the source runs (`syncd resync`, a request held back until an earlier
// one of the same scope table was done). A source that supports it
// watches SnapshotsAdded and, between transactions, calls AddedSnapshots
// and takes the requests it returns after those it has: a request left
// out is taken only after the next restart.
type SnapshotAdder interface {
	// SnapshotsAdded returns a channel that receives a value when
	// AddedSnapshots has requests to return. The channel is the same for
	// the sink's life; a value may come with nothing to return.
	SnapshotsAdded() <-chan struct{}
	// AddedSnapshots returns the requests added since the last call of
	// Snapshots or AddedSnapshots, each once. It is called from the
	// goroutine that calls Change.
	AddedSnapshots() []SnapshotRequest
}

// SnapshotAgain is what a source does when its log no longer holds the
// changes since its saved position (lost is why): it asks sink, if it
// takes snapshots, to take every snapshot again. The error, when the sink
// cannot or will not, is marked retry.Terminal and names both causes.
func SnapshotAgain(ctx context.Context, sink Sink, lost error) error {
	sn, ok := sink.(Snapshotter)
	if !ok {
		return retry.Terminal(lost)
	}
	if err := sn.Resnapshot(ctx, lost); err != nil {
		return retry.Terminal(fmt.Errorf("%w; %w", lost, err))
	}
	return nil
}

// A TableCopier is a Snapshotter that can copy again only some tables of
// a source, for sources whose log is kept per table, so that the changes
// of one table can be lost while those of the others are whole (SQL
// Server change tracking: a table's minimum valid version rises past the
// checkpoint after a cleanup or a TRUNCATE of that table alone).
type TableCopier interface {
	// CopyAgain is called when the changes of tables since the source's
	// saved position are lost (lost is why) and the other tables' are
	// not. If every scope covering them allows it (snapshot =
	// "when_needed"), the sink records, durably before it returns, that
	// each target of those scopes is to get a copy of each of the tables
	// that replaces its rows with the source's rows in scope (a copy
	// for one target, SnapshotRequest.Target, as `syncd resync` sends),
	// makes those copies pending, and returns nil. The source goes on
	// streaming the other tables from its position, and the tables from
	// the position where their changes are whole again: the copies,
	// taken later, make up for what was lost. Otherwise it returns an
	// error naming the scopes that do not allow it. Calling it again
	// before the copies are taken changes nothing.
	CopyAgain(ctx context.Context, tables []TableID, lost error) error
}

// CopyTablesAgain is what a source whose log is kept per table does when
// the changes of tables alone are lost (lost is why): it asks sink to
// copy those tables again (TableCopier); a sink that cannot is asked to
// take every snapshot again (SnapshotAgain), only if resnapshot says
// every scope of the source allows it, and all reports that the source
// is then to start afresh from its snapshots. The error, when the sink
// cannot or will not, is marked retry.Terminal and names both causes.
func CopyTablesAgain(ctx context.Context, sink Sink, tables []TableID, lost error, resnapshot bool) (all bool, err error) {
	if tc, ok := sink.(TableCopier); ok {
		if err := tc.CopyAgain(ctx, tables, lost); err != nil {
			return false, retry.Terminal(fmt.Errorf("%w; %w", lost, err))
		}
		return false, nil
	}
	if !resnapshot {
		return false, retry.Terminal(lost)
	}
	return true, SnapshotAgain(ctx, sink, lost)
}

// Store keeps a source's state between runs: a MySQL source's binlog
// position, a PostgreSQL source's record of the slot it created.
// router.Positions implements it over a NATS KV bucket.
type Store interface {
	Load(ctx context.Context, source string) ([]byte, error) // nil, nil when none
	Save(ctx context.Context, source string, state []byte) error
}

// Source reads one database's change log.
type Source interface {
	// Run reads changes from the last confirmed position and passes them to
	// sink in commit order. It confirms to the source only positions that
	// sink reports durable, and only at transaction boundaries.
	//
	// When ctx is canceled Run stops reading, drains sink, confirms the
	// final durable position and returns ctx's error. Other errors are
	// returned as they happen; errors marked with retry.Terminal will not go away
	// by retrying.
	Run(ctx context.Context, sink Sink) error
}

// SnapshotProgress is how far the copy of one table for an initial
// snapshot has come, as sources report it in their status.
type SnapshotProgress struct {
	Scope    string    `json:"scope"`
	Table    string    `json:"table"`
	Rows     int64     `json:"rows"`           // copied so far
	Estimate int64     `json:"estimated_rows"` // the server's estimate; -1 if unknown
	Percent  float64   `json:"percent"`        // of Estimate, see SetPercent
	Started  time.Time `json:"started"`

	nextLog time.Time // when Log next logs; zero: 5 s after Started
}

// progressLogEvery is how often Log logs a copy's progress.
const progressLogEvery = 5 * time.Second

// Log logs the progress ("snapshot progress") once the copy has run for
// 5 seconds, and then at most every 5 seconds, so that a long copy shows
// in the log and a short one does not fill it.
func (p *SnapshotProgress) Log(log hclog.Logger) {
	now := time.Now()
	if p.nextLog.IsZero() {
		p.nextLog = p.Started.Add(progressLogEvery)
	}
	if now.Before(p.nextLog) {
		return
	}
	p.nextLog = now.Add(progressLogEvery)
	log.Info("snapshot progress", "scope", p.Scope, "table", p.Table, "rows", p.Rows, "estimated_rows", p.Estimate, "percent", fmt.Sprintf("%.1f", p.Percent))
}

// SetPercent sets Percent from Rows and Estimate, at most 100; it leaves
// it as it is without an estimate.
func (p *SnapshotProgress) SetPercent() {
	if p.Estimate > 0 {
		p.Percent = min(100, 100*float64(p.Rows)/float64(p.Estimate))
	}
}

// AddedSnapshots returns the requests sn has added since the source last
// asked (see SnapshotAdder), without waiting; none if sn adds none. Sources
// call it between transactions.
func AddedSnapshots(sn Snapshotter) []SnapshotRequest {
	adder, ok := sn.(SnapshotAdder)
	if !ok {
		return nil
	}
	select {
	case <-adder.SnapshotsAdded():
		return adder.AddedSnapshots()
	default:
		return nil
	}
}
