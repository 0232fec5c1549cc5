package capture

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// KeyString returns a text that identifies the values of row at the
// indexes key, equal for equal values of the same types, so that a
// chunked backfill can match the rows it read with the rows the log
// changed (both decoded by the same decoders). Values of different types
// never give the same text.
func KeyString(row Row, key []int) string {
	b := make([]byte, 0, 16*len(key))
	for _, i := range key {
		b = appendKeyValue(b, row[i])
		b = append(b, 0)
	}
	return string(b)
}

func appendKeyValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case int32:
		return strconv.AppendInt(append(b, 'i'), int64(v), 10)
	case int64:
		return strconv.AppendInt(append(b, 'i'), v, 10)
	case uint64:
		return strconv.AppendUint(append(b, 'u'), v, 10)
	case string:
		return strconv.AppendQuote(append(b, 's'), v)
	case Decimal:
		return strconv.AppendQuote(append(b, 'd'), string(v))
	case []byte:
		return hex.AppendEncode(append(b, 'b'), v)
	case time.Time:
		return v.UTC().AppendFormat(append(b, 't'), time.RFC3339Nano)
	case bool:
		return strconv.AppendBool(append(b, 'o'), v)
	}
	return fmt.Appendf(append(b, '?'), "%T:%v", v, v)
}

// HasAbsent reports whether row leaves out a value (see Absent).
func HasAbsent(row Row) bool {
	for _, v := range row {
		if v == Absent {
			return true
		}
	}
	return false
}

// Phases of a chunked backfill.
const (
	PhaseExit   = iota // reading the rows that leave the scope (ExitWhere), sent as deletes
	PhaseEnter         // reading the rows that enter it (Where), sent as reads
	PhaseReread        // the ranges are done: only rows to read again are left
)

// BackfillState is what a chunked backfill records after each chunk and
// resumes from (SnapshotRequest.Resume). Keys are SQL literals in the
// source's dialect.
type BackfillState struct {
	Phase     int        `json:"phase"`
	After     []string   `json:"after,omitempty"` // key of the last row read in this phase; nil: none yet
	Reread    [][]string `json:"reread,omitempty"`
	Rows      int64      `json:"rows"`
	Truncated bool       `json:"truncated,omitempty"` // the request's truncate has been sent (or there is none)
}

// ChunkSpec is what one chunk reads: the next rows of the phase's range
// after After in key order (Where, or ExitWhere in PhaseExit; nothing in
// PhaseReread), and the rows of the keys Reread (with InScope), all in
// one snapshot, the rows to read again first.
type ChunkSpec struct {
	Phase  int
	After  []string
	Reread [][]string
}

// WhereClause renders conds, SQL conditions, and the filter w (nil: none;
// see SnapshotRequest.Where) as a WHERE clause with w's bind values, or
// "" if there is nothing to render.
func WhereClause(w func([]any) (string, []any), conds ...string) (string, []any) {
	var args []any
	if w != nil {
		var s string
		s, args = w(nil)
		conds = append(conds, "("+s+")")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Backfill is the engine-neutral bookkeeping of one chunked backfill (see
// Snapshotter): the keys that changes touched in the window between a
// chunk's watermarks and in the recent transactions, the rows to read
// again, and the state to record. Sources feed it their changes and
// commits and ask it which chunk rows go out. It is used by one
// goroutine.
type Backfill struct {
	Req   SnapshotRequest
	State BackfillState

	key     []string                   // key columns, in key order
	literal func(v any) (string, bool) // renders a key value as a SQL literal
	reread  map[string][]string        // KeyString -> key literals
	window  map[string]struct{}        // keys changed since the low watermark; nil outside
	hist    []txnKeys                  // transactions that changed the table
	cur     []string                   // keys the open transaction changed
	early   map[string][]any           // KeyString -> key values, of the keys changed before the truncate
	keyIdx  map[*Table][]int
	spec    ChunkSpec
	drop    map[string]struct{}
	delay   time.Duration
}

type txnKeys struct {
	txn  uint64
	keys []string
	// early: the transaction committed before the truncate went out, so
	// the sink dropped its changes (Snapshotter.Snapshots): if the chunk
	// read does not see it, no one carries its rows.
	early bool
}

// allKeys stands for every key, after a truncate.
const allKeys = "\x00truncate"

// NewBackfill starts the bookkeeping of req over a table keyed by the
// columns key, resuming from req.Resume if set. literal renders a key
// value as a SQL literal of the source, reporting false for a type it
// cannot render.
func NewBackfill(req SnapshotRequest, key []string, literal func(any) (string, bool)) (*Backfill, error) {
	b := &Backfill{Req: req, key: key, literal: literal, reread: make(map[string][]string), keyIdx: make(map[*Table][]int)}
	switch {
	case req.Resume != nil:
		if err := json.Unmarshal(req.Resume, &b.State); err != nil {
			return nil, fmt.Errorf("resume backfill of %s for scope %s: %w", req.Table, req.Scope, err)
		}
		for _, k := range b.State.Reread {
			b.reread[strings.Join(k, "\x00")] = k
		}
	case req.ExitWhere == nil:
		b.State.Phase = PhaseEnter
	}
	if req.Resume == nil {
		b.State.Truncated = !req.Truncate
	}
	return b, nil
}

// Next returns what the next chunk reads, and how long to wait before
// reading it: rows to read again that a transaction not yet visible keeps
// changing are read again a little later each time. It closes the window.
func (b *Backfill) Next(limit int) (ChunkSpec, time.Duration) {
	b.spec = ChunkSpec{Phase: b.State.Phase, After: b.State.After}
	for k, lits := range b.reread {
		b.spec.Reread = append(b.spec.Reread, lits)
		delete(b.reread, k)
		if len(b.spec.Reread) == limit {
			break
		}
	}
	b.window = nil
	return b.spec, b.delay
}

// OpenWindow is called at the chunk's low watermark, between transactions.
func (b *Backfill) OpenWindow() { b.window = make(map[string]struct{}) }

// InWindow reports whether the chunk's window is open.
func (b *Backfill) InWindow() bool { return b.window != nil }

// Touch notes a change of the open transaction. Changes to other tables
// are ignored. It notes the keys of the change's rows, and the row to read
// again if the new row leaves values out.
func (b *Backfill) Touch(ev *Event) error {
	if ev.Table.ID() != b.Req.Table {
		return nil
	}
	if ev.Op == OpTruncate {
		b.note(allKeys, nil, nil) // every row changed: truncated rows must not come back
		return nil
	}
	if ev.Before != nil && b.hasKey(ev.Table, ev.Before) {
		b.note(b.Key(ev.Table, ev.Before), ev.Table, ev.Before)
	}
	if ev.After == nil {
		return nil
	}
	k := b.Key(ev.Table, ev.After)
	b.note(k, ev.Table, ev.After)
	if ev.Op == OpUpdate && HasAbsent(ev.After) {
		return b.readAgain(k, ev.Table, ev.After)
	}
	return nil
}

// note notes k, the key of row of t, changed by the open transaction.
// Before the truncate it keeps the key's values, to read the row again
// (EndWindow).
func (b *Backfill) note(k string, t *Table, row Row) {
	b.cur = append(b.cur, k)
	if b.window != nil {
		b.window[k] = struct{}{}
	}
	if b.State.Truncated || row == nil {
		return
	}
	if _, ok := b.early[k]; ok {
		return
	}
	if b.early == nil {
		b.early = make(map[string][]any)
	}
	vals := make([]any, len(b.key))
	for n, c := range b.key {
		v := row[t.Column(c)]
		if p, ok := v.([]byte); ok { // the decoder's buffer may be reused
			v = slices.Clone(p)
		}
		vals[n] = v
	}
	b.early[k] = vals
}

// Committed ends the open transaction, txn being its id in the source's
// terms (used by EndWindow's notVisible). A transaction committed while
// the truncate has not gone out yet is one whose changes the sink
// dropped.
func (b *Backfill) Committed(txn uint64) {
	if len(b.cur) > 0 {
		b.hist = append(b.hist, txnKeys{txn: txn, keys: b.cur, early: !b.State.Truncated})
		b.cur = nil
	}
}

// EndWindow is called at the chunk's high watermark, once its rows are
// read. The chunk's rows to drop are those the window's transactions
// changed and those of transactions that notVisible (nil: none) says the
// chunk's read did not see although they committed before its low
// watermark: their changes, passed on, carry those rows. The rows of
// such a transaction that committed before the truncate went out, whose
// changes the sink dropped, are read again in a later chunk, until one
// sees it. Transactions that seenByAll (nil: all) says every later read
// sees are forgotten. It fails only if a key to read again cannot be
// rendered as a literal.
func (b *Backfill) EndWindow(notVisible, seenByAll func(txn uint64) bool) error {
	b.drop = b.window
	if b.drop == nil {
		b.drop = make(map[string]struct{})
	}
	kept, early := b.hist[:0], false
	for _, h := range b.hist {
		if notVisible != nil && notVisible(h.txn) {
			for _, k := range h.keys {
				b.drop[k] = struct{}{}
				if vals, ok := b.early[k]; ok && h.early {
					if err := b.readValuesAgain(k, vals); err != nil {
						return err
					}
				}
			}
		}
		if seenByAll != nil && !seenByAll(h.txn) {
			kept = append(kept, h)
			early = early || h.early
		}
	}
	b.hist = kept
	if !early && b.State.Truncated {
		b.early = nil // no transaction left that the sink dropped
	}
	b.window = nil
	return nil
}

// Keep reports whether a row of the chunk, of table t, goes out; reread
// says it comes from the rows to read again, which are read again later
// when dropped.
func (b *Backfill) Keep(t *Table, row Row, reread bool) (bool, error) {
	if _, all := b.drop[allKeys]; all {
		return false, nil
	}
	k := b.Key(t, row)
	if _, ok := b.drop[k]; !ok {
		return true, nil
	}
	if reread {
		return false, b.readAgain(k, t, row)
	}
	return false, nil
}

// Advance records a chunk sent: last is the key of the last row the
// range read (nil if none), more whether the range may hold more, sent
// the rows that went out. It returns the state to record.
func (b *Backfill) Advance(last []string, more bool, sent int) []byte {
	if _, all := b.drop[allKeys]; !all { // after a truncate the same range is read again
		if last != nil {
			b.State.After = last
		}
		if !more && b.State.Phase < PhaseReread {
			b.State.Phase++
			b.State.After = nil
		}
	}
	if b.spec.Phase == PhaseReread && sent == 0 {
		b.delay = min(max(2*b.delay, 20*time.Millisecond), time.Second)
	} else {
		b.delay = 0
	}
	b.State.Rows += int64(sent)
	b.State.Reread = b.State.Reread[:0]
	for _, lits := range b.reread {
		b.State.Reread = append(b.State.Reread, lits)
	}
	state, _ := json.Marshal(b.State)
	return state
}

// Finishes reports whether the chunk in flight, whose range more says
// may hold more rows, is the backfill's last: called once its rows went
// through Keep, before Advance, it answers what Done will after it.
func (b *Backfill) Finishes(more bool) bool {
	if _, all := b.drop[allKeys]; all {
		return false
	}
	phase := b.State.Phase
	if !more && phase < PhaseReread {
		phase++
	}
	return phase == PhaseReread && len(b.reread) == 0
}

// EndCopy marks txn, a snapshot transaction of table for scope that is
// open at sink, as the end of the table's copy (Txn.CopyEnd), before its
// Commit. sent is how many events the transaction holds: with none, it
// passes an OpCopyEnd event, so that the end reaches the stream.
func EndCopy(ctx context.Context, sink Sink, txn *Txn, table *Table, scope string, sent int) error {
	txn.CopyEnd = true
	if sent > 0 {
		return nil
	}
	return sink.Change(ctx, &Event{Txn: txn, Table: table, Op: OpCopyEnd, Scope: scope})
}

// Done reports whether the backfill has read everything.
func (b *Backfill) Done() bool { return b.State.Phase == PhaseReread && len(b.reread) == 0 }

// ChunkPhase is the phase of the chunk in flight.
func (b *Backfill) ChunkPhase() int { return b.spec.Phase }

// Key returns the KeyString of row, a row of t, by the backfill's key.
func (b *Backfill) Key(t *Table, row Row) string {
	idx, ok := b.keyIdx[t]
	if !ok {
		for _, c := range b.key {
			idx = append(idx, t.Column(c))
		}
		b.keyIdx[t] = idx
	}
	return KeyString(row, idx)
}

func (b *Backfill) hasKey(t *Table, row Row) bool {
	for _, c := range b.key {
		if i := t.Column(c); i < 0 || row[i] == Absent {
			return false
		}
	}
	return true
}

func (b *Backfill) readAgain(k string, t *Table, row Row) error {
	vals := make([]any, len(b.key))
	for n, c := range b.key {
		vals[n] = row[t.Column(c)]
	}
	return b.readValuesAgain(k, vals)
}

// readValuesAgain notes the row of key k, whose key columns hold vals, to
// read again.
func (b *Backfill) readValuesAgain(k string, vals []any) error {
	lits := make([]string, len(b.key))
	for n, v := range vals {
		lit, ok := b.literal(v)
		if !ok {
			return retry.Terminal(fmt.Errorf("backfill of %s: cannot read a row again by its key column %s of type %T", b.Req.Table, b.key[n], v))
		}
		lits[n] = lit
	}
	b.reread[k] = lits
	return nil
}
