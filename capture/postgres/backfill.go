package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// A backfill copies the rows of one snapshot request of a table with a
// primary key online, in chunks, while the session goes on streaming, in
// the manner of DBLog (Netflix) and Debezium's incremental snapshots. It
// holds no lock and no long transaction, and creates no slot.
//
// For each chunk a reader goroutine writes a low watermark into the WAL
// (a transactional logical decoding message naming the slot), reads the
// next rows in key order in a short REPEATABLE READ transaction, noting
// the transaction's snapshot, and writes a high watermark. The session
// sees the watermarks in its stream. The rows the transactions between
// them changed are dropped from the chunk: those changes, already passed
// on, carry them, and the chunk's read may or may not have seen them.
// So are the rows changed by transactions that committed before the low
// watermark but were still running in the read's snapshot (a commit is
// in the WAL before it is visible). The rest of the chunk goes out as one
// snapshot transaction right after the high watermark, where it is exact.
//
// Updates that leave values out (unchanged TOAST) cannot be applied to a
// row the targets may not hold yet; the sink drops them while the
// backfill is open (capture.Snapshotter) and the backfill reads their
// rows again in its next chunk.
//
// After each chunk is durable the sink records the backfill's state; the
// session confirms no position past the last recorded chunk, so that a
// restart resumes from the state and replays every change after it.

// watermarkPrefix is the prefix of syncd's logical decoding messages.
const watermarkPrefix = "syncd"

// defaultChunkRows is how many rows a chunk reads at most.
const defaultChunkRows = 10000

// watermark is the content of a watermark message. Every slot of the
// database sees it; Slot and Run say whose it is.
type watermark struct {
	Slot  string `json:"slot"`
	Run   string `json:"run"`
	Chunk int64  `json:"chunk"`
	Mark  string `json:"mark"` // "low" or "high"
}

// backfillState is what a backfill records after each chunk.
type backfillState struct {
	Phase     int        `json:"phase"`           // phaseExit, then phaseEnter
	After     []string   `json:"after,omitempty"` // key of the last row read in this phase, as SQL literals
	Reread    [][]string `json:"reread,omitempty"`
	Rows      int64      `json:"rows"`
	Truncated bool       `json:"truncated,omitempty"`
}

const (
	phaseExit  = iota // reading the rows that leave the scope (ExitWhere), sent as deletes
	phaseEnter        // reading the rows that enter it (Where), sent as reads
)

// backfill is a running chunked backfill. The session goroutine owns it;
// the reader goroutine only uses conn, and hands over its results through
// res and done.
type backfill struct {
	req    capture.SnapshotRequest
	ti     *tableInfo
	run    string
	conn   *pgx.Conn
	state  backfillState
	reread map[string][]string // KeyString -> key as SQL literals
	prog   *capture.SnapshotProgress
	rel    *relation // decodes chunk rows; made on the first chunk

	chunk   int64               // number of the chunk in flight
	spec    chunkSpec           // what it reads
	window  map[string]struct{} // keys changed since its low watermark; nil before it
	low     bool                // the open transaction carries its low watermark
	high    bool                // the open transaction carries its high watermark
	hist    []txnKeys           // transactions that changed the table, until every snapshot sees them
	cur     []string            // keys the open transaction changed
	keyIdx  map[*capture.Table][]int
	hold    capture.Position // confirm no further: the last chunk recorded
	started time.Time
	nextLog time.Time     // when progress is next logged
	delay   time.Duration // before the next chunk

	res    chan chunkResult // the reader's rows, sent before the high watermark
	done   chan error       // the reader's end
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type txnKeys struct {
	xid  uint32
	keys []string
}

// chunkSpec is what one chunk reads.
type chunkSpec struct {
	phase  int
	after  []string   // read keys after this one; nil: from the first
	reread [][]string // read these keys again (with InScope)
}

// chunkResult is what the reader read for one chunk.
type chunkResult struct {
	fields []pgconn.FieldDescription
	rows   [][][]byte // raw text values; the first nReread from the reread query
	nRead  int
	more   bool // the range read filled the chunk: more rows may follow
	xmin   uint32
	xip    map[uint32]bool // transactions running in the read's snapshot
}

// startBackfill begins a chunked backfill of req, whose table has a
// primary key.
func (ss *session) startBackfill(ctx context.Context, req capture.SnapshotRequest, ti *tableInfo) error {
	conn, err := ss.src.connectCatalog(ctx)
	if err != nil {
		return err
	}
	bf := &backfill{
		req: req, ti: ti, conn: conn,
		run:     strconv.FormatInt(time.Now().UnixNano(), 36),
		reread:  make(map[string][]string),
		keyIdx:  make(map[*capture.Table][]int),
		hold:    ss.confirmable(),
		started: time.Now(),
		nextLog: time.Now().Add(5 * time.Second),
		res:     make(chan chunkResult, 1),
		done:    make(chan error, 1),
	}
	if req.ExitWhere == nil {
		bf.state.Phase = phaseEnter
	}
	if req.Resume != nil {
		if err := json.Unmarshal(req.Resume, &bf.state); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return retry.Terminal(fmt.Errorf("resume backfill of %s for scope %s: %w", req.Table, req.Scope, err))
		}
		for _, k := range bf.state.Reread {
			bf.reread[strings.Join(k, ",")] = k
		}
	} else {
		bf.state.Truncated = !req.Truncate
	}
	bf.prog = &capture.SnapshotProgress{Scope: req.Scope, Table: req.Table.String(), Rows: bf.state.Rows, Estimate: bf.estimate(ctx, ss), Started: bf.started}
	bfCtx, cancel := context.WithCancel(ctx)
	bf.cancel = cancel
	ss.bf = bf
	ss.src.log.Info("backfill started", "scope", req.Scope, "table", req.Table, "resumed", req.Resume != nil, "rows_so_far", bf.state.Rows, "estimated_rows", bf.prog.Estimate)
	ss.reportProgress(bf.prog)
	bf.next(bfCtx, ss.src.cfg.Slot, ss.chunkRows())
	return nil
}

func (ss *session) chunkRows() int {
	if ss.src.cfg.ChunkRows > 0 {
		return ss.src.cfg.ChunkRows
	}
	return defaultChunkRows
}

// estimate asks the planner how many rows are left to read; -1 if it
// cannot say.
func (bf *backfill) estimate(ctx context.Context, ss *session) int64 {
	one := func(w func([]any) (string, []any)) int64 {
		q, args := "SELECT * FROM "+quoteTable(bf.req.Table), []any(nil)
		if w != nil {
			var where string
			where, args = w(nil)
			q += " WHERE " + where
		}
		tx, err := bf.conn.Begin(ctx)
		if err != nil {
			return -1
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		return ss.estimate(ctx, tx, q, args)
	}
	total := one(bf.req.Where)
	if bf.req.ExitWhere != nil && total >= 0 {
		if exits := one(bf.req.ExitWhere); exits >= 0 {
			return total + exits
		}
		return -1
	}
	return total
}

// next starts the reader of the next chunk.
func (bf *backfill) next(ctx context.Context, slot string, limit int) {
	bf.chunk++
	bf.spec = chunkSpec{phase: bf.state.Phase, after: bf.state.After}
	for k, lits := range bf.reread {
		bf.spec.reread = append(bf.spec.reread, lits)
		delete(bf.reread, k)
		if len(bf.spec.reread) == limit {
			break
		}
	}
	bf.window, bf.low, bf.high = nil, false, false
	spec, n, delay := bf.spec, bf.chunk, bf.delay
	bf.wg.Add(1)
	go func() {
		defer bf.wg.Done()
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				bf.done <- ctx.Err()
				return
			}
		}
		bf.done <- bf.read(ctx, slot, n, spec, limit)
	}()
}

// read runs on the reader goroutine: low watermark, chunk, high
// watermark. It sends the chunk on res before writing the high
// watermark, so the session has it when the watermark arrives.
func (bf *backfill) read(ctx context.Context, slot string, n int64, spec chunkSpec, limit int) error {
	mark := func(kind string) error {
		b, _ := json.Marshal(watermark{Slot: slot, Run: bf.run, Chunk: n, Mark: kind})
		if _, err := bf.conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", watermarkPrefix, string(b)); err != nil {
			return fmt.Errorf("write the %s watermark of chunk %d of %s: %w", kind, n, bf.req.Table, err)
		}
		return nil
	}
	if err := mark("low"); err != nil {
		return err
	}
	res, err := bf.readChunk(ctx, spec, limit)
	if err != nil {
		return fmt.Errorf("read chunk %d of %s for scope %s: %w", n, bf.req.Table, bf.req.Scope, err)
	}
	bf.res <- res
	return mark("high")
}

func (bf *backfill) readChunk(ctx context.Context, spec chunkSpec, limit int) (chunkResult, error) {
	var res chunkResult
	tx, err := bf.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return res, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var snap string
	if err := tx.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&snap); err != nil {
		return res, fmt.Errorf("read the snapshot: %w", err)
	}
	if res.xmin, res.xip, err = parseSnapshot(snap); err != nil {
		return res, err
	}
	table := quoteTable(bf.req.Table)
	keys := make([]string, len(bf.ti.pk))
	for i, c := range bf.ti.pk {
		keys[i] = ident(c)
	}
	keyList := "(" + strings.Join(keys, ", ") + ")"
	where := func(w func([]any) (string, []any), conds ...string) (string, []any) {
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
	if len(spec.reread) > 0 {
		tuples := make([]string, len(spec.reread))
		for i, k := range spec.reread {
			tuples[i] = "(" + strings.Join(k, ", ") + ")"
		}
		w, args := where(bf.req.InScope, keyList+" IN ("+strings.Join(tuples, ", ")+")")
		if err := res.collect(ctx, tx, "SELECT * FROM "+table+w, args); err != nil {
			return res, err
		}
		res.nRead = len(res.rows)
	}
	if spec.phase > phaseEnter { // the range is done: only rows to read again
		return res, tx.Commit(ctx)
	}
	var conds []string
	if spec.after != nil {
		conds = append(conds, keyList+" > ("+strings.Join(spec.after, ", ")+")")
	}
	w, args := where(bf.req.Where, conds...)
	if spec.phase == phaseExit {
		w, args = where(bf.req.ExitWhere, conds...)
	}
	q := "SELECT * FROM " + table + w + " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(limit)
	if err := res.collect(ctx, tx, q, args); err != nil {
		return res, err
	}
	res.more = len(res.rows)-res.nRead == limit
	return res, tx.Commit(ctx)
}

// collect appends the rows of query, as copies of their text values.
func (res *chunkResult) collect(ctx context.Context, tx pgx.Tx, query string, args []any) error {
	rows, err := tx.Query(ctx, query, append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	res.fields = slices.Clone(rows.FieldDescriptions()) // pgx reuses its slice
	for rows.Next() {
		raw := rows.RawValues()
		row := make([][]byte, len(raw))
		for i, v := range raw {
			if v != nil {
				row[i] = append(make([]byte, 0, len(v)), v...)
			}
		}
		res.rows = append(res.rows, row)
	}
	return rows.Err()
}

// parseSnapshot reads pg_current_snapshot's text, xmin:xmax:xip,...,
// keeping the 32-bit transaction ids pgoutput reports.
func parseSnapshot(s string) (xmin uint32, xip map[uint32]bool, err error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, nil, fmt.Errorf("read snapshot %q: not xmin:xmax:xip", s)
	}
	x, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("read snapshot %q: %w", s, err)
	}
	xip = make(map[uint32]bool)
	if parts[2] != "" {
		for _, p := range strings.Split(parts[2], ",") {
			v, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				return 0, nil, fmt.Errorf("read snapshot %q: %w", s, err)
			}
			xip[uint32(v)] = true
		}
	}
	return uint32(x), xip, nil
}

// key returns the KeyString of row, a row of t, by the table's primary key.
func (bf *backfill) key(t *capture.Table, row capture.Row) string {
	idx, ok := bf.keyIdx[t]
	if !ok {
		for _, c := range bf.ti.pk {
			idx = append(idx, t.Column(c))
		}
		bf.keyIdx[t] = idx
	}
	return capture.KeyString(row, idx)
}

// touch notes a change of the open transaction to the backfilled table:
// its keys for the chunk's window and history, and the row to read again
// if the new row leaves values out.
func (bf *backfill) touch(ev *capture.Event) error {
	if ev.Table.ID() != bf.req.Table {
		return nil
	}
	if ev.Before != nil && keySent(bf, ev.Table, ev.Before) {
		bf.note(bf.key(ev.Table, ev.Before))
	}
	if ev.After != nil {
		bf.note(bf.key(ev.Table, ev.After))
	}
	if ev.Op == capture.OpTruncate {
		// Every row changed: drop the whole chunk, which truncated rows
		// would otherwise bring back. The read after it sees the table as
		// it is now.
		bf.note(truncated)
	}
	if ev.Op == capture.OpUpdate && capture.HasAbsent(ev.After) {
		lits, err := keyLiterals(bf, ev.Table, ev.After)
		if err != nil {
			return err
		}
		bf.reread[bf.key(ev.Table, ev.After)] = lits
	}
	return nil
}

// note records that the open transaction changed the row of key k.
func (bf *backfill) note(k string) {
	bf.cur = append(bf.cur, k)
	if bf.window != nil {
		bf.window[k] = struct{}{}
	}
}

// truncated stands for every key in a window or history.
const truncated = "\x00truncate"

// keySent reports whether row, an old row, holds the key values.
func keySent(bf *backfill, t *capture.Table, row capture.Row) bool {
	for _, c := range bf.ti.pk {
		if i := t.Column(c); i < 0 || row[i] == capture.Absent {
			return false
		}
	}
	return true
}

// keyLiterals renders the key of row as SQL literals.
func keyLiterals(bf *backfill, t *capture.Table, row capture.Row) ([]string, error) {
	out := make([]string, len(bf.ti.pk))
	for n, c := range bf.ti.pk {
		v := row[t.Column(c)]
		switch v := v.(type) {
		case int32:
			out[n] = strconv.FormatInt(int64(v), 10)
		case int64:
			out[n] = strconv.FormatInt(v, 10)
		case uint64:
			out[n] = strconv.FormatUint(v, 10)
		case bool:
			out[n] = strconv.FormatBool(v)
		case string:
			out[n] = quoteLiteral(v)
		case capture.Decimal:
			out[n] = quoteLiteral(string(v))
		case time.Time:
			out[n] = quoteLiteral(v.Format(time.RFC3339Nano))
		case []byte:
			out[n] = quoteLiteral(`\x` + hex.EncodeToString(v))
		default:
			return nil, retry.Terminal(fmt.Errorf("backfill of %s: cannot read a row again by a key column %s of type %T", bf.req.Table, c, v))
		}
	}
	return out, nil
}

// watermark handles a logical decoding message of the stream: it notes
// the backfill's watermarks for the open transaction.
func (ss *session) watermark(m *pglogrepl.LogicalDecodingMessage) {
	bf := ss.bf
	if bf == nil || m.Prefix != watermarkPrefix {
		return
	}
	var w watermark
	if json.Unmarshal(m.Content, &w) != nil || w.Slot != ss.src.cfg.Slot || w.Run != bf.run || w.Chunk != bf.chunk {
		return
	}
	switch w.Mark {
	case "low":
		bf.low = true
	case "high":
		bf.high = bf.window != nil
	}
}

// backfillCommitted runs after the sink got the commit of txn (xid): it
// records the keys the transaction changed, opens the chunk's window
// after its low watermark, and sends the chunk after its high one.
func (ss *session) backfillCommitted(ctx context.Context, xid uint32, txn *capture.Txn) error {
	bf := ss.bf
	if len(bf.cur) > 0 {
		bf.hist = append(bf.hist, txnKeys{xid: xid, keys: bf.cur})
		bf.cur = nil
	}
	switch {
	case bf.low:
		bf.low, bf.window = false, make(map[string]struct{})
		if !bf.state.Truncated {
			if err := ss.sendTruncate(ctx, txn); err != nil {
				return err
			}
		}
	case bf.high:
		return ss.sendChunk(ctx, txn)
	}
	return nil
}

// sendTruncate passes the backfill's truncate as a snapshot transaction
// right after txn, the first low watermark's.
func (ss *session) sendTruncate(ctx context.Context, at *capture.Txn) error {
	bf := ss.bf
	tbl := &capture.Table{Schema: bf.req.Table.Schema, Name: bf.req.Table.Name}
	if r := ss.relationOf(bf.req.Table); r != nil {
		tbl = r.table
	}
	txn := &capture.Txn{ID: "snapshot", Pos: at.Pos + 1, Ack: at.Ack, CommitTime: at.CommitTime, Snapshot: true}
	if err := ss.sink.Begin(ctx, txn); err != nil {
		return err
	}
	if err := ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: tbl, Op: capture.OpTruncate, Scope: bf.req.Scope}); err != nil {
		return err
	}
	bf.state.Truncated = true
	return ss.sink.Commit(ctx, txn)
}

// relationOf returns the latest relation the stream described for id, if any.
func (ss *session) relationOf(id capture.TableID) *relation {
	for _, r := range ss.rels {
		if r.table.ID() == id {
			return r
		}
	}
	return nil
}

// sendChunk passes the chunk, less the rows changes carry, as a snapshot
// transaction right after at, the high watermark's; records the state
// once it is durable; and starts the next chunk or ends the backfill.
func (ss *session) sendChunk(ctx context.Context, at *capture.Txn) error {
	bf := ss.bf
	var res chunkResult
	select {
	case res = <-bf.res:
	default:
		return fmt.Errorf("backfill of %s: high watermark of chunk %d without its rows", bf.req.Table, bf.chunk)
	}
	drop := bf.window
	kept := bf.hist[:0]
	for _, h := range bf.hist {
		if res.xip[h.xid] {
			for _, k := range h.keys {
				drop[k] = struct{}{}
			}
		}
		if int32(h.xid-res.xmin) >= 0 { // not yet seen by every later snapshot
			kept = append(kept, h)
		}
	}
	bf.hist = kept
	if bf.rel == nil && len(res.fields) > 0 {
		r, err := ss.newRelation(ctx, relationOf(bf.req.Table, res.fields, bf.ti.pk))
		if err != nil {
			return err
		}
		bf.rel = r
	}
	txn := &capture.Txn{ID: "snapshot", Pos: at.Pos + 1, Ack: at.Ack, CommitTime: at.CommitTime, Snapshot: true}
	if err := ss.sink.Begin(ctx, txn); err != nil {
		return err
	}
	_, all := drop[truncated]
	var sent, dropped int
	for i, raw := range res.rows {
		if all {
			dropped = len(res.rows)
			break
		}
		r := bf.rel
		for c, v := range raw {
			if v == nil {
				r.after[c] = nil
				continue
			}
			var err error
			if r.after[c], err = r.decoders[c](v); err != nil {
				return fmt.Errorf("backfill %s: decode %s: %w", bf.req.Table, r.table.Columns[c].Name, err)
			}
		}
		if _, ok := drop[bf.key(r.table, r.after)]; ok {
			dropped++
			if i < res.nRead { // still to be read again: the change that dropped it may have been left out
				lits, err := keyLiterals(bf, r.table, r.after)
				if err != nil {
					return err
				}
				bf.reread[bf.key(r.table, r.after)] = lits
			}
			continue
		}
		ev := capture.Event{Txn: txn, Table: r.table, Op: capture.OpRead, After: r.after, Scope: bf.req.Scope}
		if i >= res.nRead && bf.spec.phase == phaseExit {
			ev.Op, ev.Before, ev.After = capture.OpDelete, r.after, nil
		}
		if err := ss.sink.Change(ctx, &ev); err != nil {
			return err
		}
		sent++
	}
	if err := ss.sink.Commit(ctx, txn); err != nil {
		return err
	}
	// Advance the range to the last row read, sent or not.
	if n := len(res.rows); n > res.nRead && !all {
		last := res.rows[n-1]
		after := make([]string, len(bf.ti.pk))
		for i, c := range bf.ti.pk {
			for f := range res.fields {
				if res.fields[f].Name == c {
					after[i] = quoteLiteral(string(last[f]))
				}
			}
		}
		bf.state.After = after
	}
	if !res.more && !all {
		if bf.state.Phase == phaseExit {
			bf.state.Phase, bf.state.After = phaseEnter, nil
		} else {
			bf.state.Phase = phaseEnter + 1 // the range is done
		}
	}
	bf.state.Rows += int64(sent)
	bf.prog.Rows = bf.state.Rows
	ss.reportProgress(bf.prog)
	ss.src.log.Debug("backfill chunk", "scope", bf.req.Scope, "table", bf.req.Table, "chunk", bf.chunk, "read", len(res.rows), "sent", sent, "dropped", dropped)
	if now := time.Now(); now.After(bf.nextLog) {
		bf.nextLog = now.Add(5 * time.Second)
		ss.src.log.Info("snapshot progress", "scope", bf.prog.Scope, "table", bf.prog.Table, "rows", bf.prog.Rows, "estimated_rows", bf.prog.Estimate, "percent", fmt.Sprintf("%.1f", bf.prog.Percent))
	}
	if err := ss.sink.Drain(ctx); err != nil {
		return fmt.Errorf("backfill %s: %w", bf.req.Table, err)
	}
	bf.state.Reread = bf.state.Reread[:0]
	for _, lits := range bf.reread {
		bf.state.Reread = append(bf.state.Reread, lits)
	}
	state, _ := json.Marshal(bf.state)
	if err := ss.snapshotter.SnapshotProgressed(ctx, bf.req, state, bf.state.Rows); err != nil {
		return err
	}
	bf.hold = txn.Ack
	if err := <-bf.done; err != nil { // the reader has ended: it wrote the high watermark
		return err
	}
	if bf.state.Phase > phaseEnter && len(bf.reread) == 0 {
		return ss.finishBackfill(ctx)
	}
	// Rows to read again that a transaction not yet visible keeps
	// changing: wait a little longer each time before reading them again.
	if bf.spec.phase > phaseEnter && sent == 0 {
		bf.delay = min(max(2*bf.delay, 20*time.Millisecond), time.Second)
	} else {
		bf.delay = 0
	}
	bfCtx, cancel := context.WithCancel(ctx)
	bf.cancel()
	bf.cancel = cancel
	bf.next(bfCtx, ss.src.cfg.Slot, ss.chunkRows())
	return nil
}

// finishBackfill records the backfill done and prepares the next snapshot.
func (ss *session) finishBackfill(ctx context.Context) error {
	bf := ss.bf
	if err := ss.snapshotter.SnapshotDone(ctx, bf.req, bf.state.Rows); err != nil {
		return err
	}
	ss.src.log.Info("snapshot done", "scope", bf.req.Scope, "table", bf.req.Table, "rows", bf.state.Rows, "chunks", bf.chunk, "took", time.Since(bf.started).Round(time.Millisecond))
	ss.stopBackfill(ctx)
	ss.src.setStatus(func(st *Status) { st.Snapshot, st.SnapshotsPending = nil, len(ss.toSnapshot) })
	return ss.prepareSnapshot(ctx)
}

// stopBackfill ends the reader and closes its connection.
func (ss *session) stopBackfill(ctx context.Context) {
	bf := ss.bf
	if bf == nil {
		return
	}
	bf.cancel()
	bf.wg.Wait()
	bf.conn.Close(context.WithoutCancel(ctx))
	ss.bf = nil
}

// backfillFailed returns the reader's error if it ended with one.
func (ss *session) backfillFailed() error {
	bf := ss.bf
	if bf == nil {
		return nil
	}
	select {
	case err := <-bf.done:
		if err != nil {
			return err
		}
		bf.done <- nil // put it back for sendChunk
	default:
	}
	return nil
}
