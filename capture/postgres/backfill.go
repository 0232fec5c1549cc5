package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
// in the WAL before it is visible). Such a transaction that committed
// before the backfill's truncate went out had its changes dropped by the
// sink, so nothing carries its rows: they are read again in later chunks
// until one sees it. The rest of the chunk goes out as one snapshot
// transaction right after the high watermark, where it is exact.
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

// streamingChunkRows is how many rows a chunk reads at most, unless the
// source's ChunkRows says otherwise, while the session streams
// (chunkRows). A streaming change that commits after a chunk's high
// watermark is applied at the targets after the chunk, so smaller chunks
// keep its lag near what it is without a backfill, at the cost of more
// watermarks and round trips per row copied.
const streamingChunkRows = 1000

// watermark is the content of a watermark message. Every slot of the
// database sees it; Slot and Run say whose it is.
type watermark struct {
	Slot  string `json:"slot"`
	Run   string `json:"run"`
	Chunk int64  `json:"chunk"`
	Mark  string `json:"mark"` // "low" or "high"
}

// backfill is a running chunked backfill. The session goroutine owns it;
// the reader's goroutine only uses conn and readers.
type backfill struct {
	*capture.Backfill
	ti      *tableInfo
	pacer   capture.Snapshotter // may be a capture.Pacer
	run     string
	conn    *pgx.Conn
	readers []*pgx.Conn // read a chunk's parts in parallel; each opened when first needed
	minRows int         // the fewest rows of a part
	connect func(context.Context) (*pgx.Conn, error)
	prog    *capture.SnapshotProgress
	rel     *relation        // decodes chunk rows; made anew if the table changes
	chunk   int64            // number of the chunk in flight
	low     bool             // the open transaction carries its low watermark
	high    bool             // the open transaction carries its high watermark
	hold    capture.Position // confirm no further: the last chunk recorded

	reader *capture.ChunkReader[chunkResult]
	states capture.ChunkStates // of the chunks sent, until they are durable

	started time.Time
}

// chunkResult is what the reader read for one chunk.
type chunkResult struct {
	fields []pgconn.FieldDescription
	rows   [][][]byte // raw text values; the first nRead from the query of rows to read again
	nRead  int
	more   bool // the range read filled the chunk: more rows may follow
	parts  int  // how many reads read the range at once
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
	core, err := capture.NewBackfill(req, ti.pk, literal)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return retry.Terminal(err)
	}
	bf := &backfill{
		Backfill: core, ti: ti, conn: conn, pacer: ss.snapshotter,
		readers: make([]*pgx.Conn, ss.src.cfg.Parallelism), connect: ss.src.connectCatalog, minRows: ss.src.cfg.MinRangeRows,
		run:     strconv.FormatInt(time.Now().UnixNano(), 36),
		hold:    ss.confirmable(),
		started: time.Now(),
		reader:  capture.NewChunkReader[chunkResult](),
	}
	bf.prog = &capture.SnapshotProgress{Scope: req.Scope, Table: req.Table.String(), Rows: bf.State.Rows, Estimate: bf.estimate(ctx, ss), Started: bf.started}
	// The relation chunk rows are decoded by (SELECT * has the same
	// columns), which also names the columns of the truncate.
	rows, err := ss.cat.Query(ctx, "SELECT * FROM "+quoteTable(req.Table)+" LIMIT 0")
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("describe %s for its backfill: %w", req.Table, err)
	}
	fields := slices.Clone(rows.FieldDescriptions())
	rows.Close()
	if bf.rel, err = ss.newRelation(ctx, relationOf(req.Table, fields, ti.pk)); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return err
	}
	ss.bf = bf
	ss.src.log.Info("backfill started", "scope", req.Scope, "table", req.Table.String(), "resumed", req.Resume != nil, "rows_so_far", bf.State.Rows, "estimated_rows", bf.prog.Estimate)
	ss.reportProgress(bf.prog)
	bf.next(ctx, ss.src.cfg.Slot, ss.chunkRows(true))
	return nil
}

// chunkRows returns how many rows the next chunk reads at most: the
// source's ChunkRows if set; streamingChunkRows for a backfill's first
// chunk and while the session streams (a transaction it passed changes
// of committed within capture.StreamingWindow); defaultChunkRows
// otherwise. A backfill often starts with its session, after a restart
// or a reload, before the session could see whether the source streams.
func (ss *session) chunkRows(first bool) int {
	switch {
	case ss.src.cfg.ChunkRows > 0:
		return ss.src.cfg.ChunkRows
	case first || time.Since(ss.streamed) < capture.StreamingWindow:
		return streamingChunkRows
	}
	return defaultChunkRows
}

// estimate asks the planner how many rows are left to read; -1 if it
// cannot say.
func (bf *backfill) estimate(ctx context.Context, ss *session) int64 {
	one := func(w func([]any) (string, []any)) int64 {
		q, args := "SELECT * FROM "+quoteTable(bf.Req.Table), []any(nil)
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
	total := one(bf.Req.Where)
	if bf.Req.ExitWhere != nil && total >= 0 {
		if exits := one(bf.Req.ExitWhere); exits >= 0 {
			return total + exits
		}
		return -1
	}
	return total
}

// next starts the reader of the next chunk.
func (bf *backfill) next(ctx context.Context, slot string, limit int) {
	bf.chunk++
	spec, delay := bf.Next(limit)
	bf.low, bf.high = false, false
	n := bf.chunk
	bf.reader.Start(ctx, delay, func(ctx context.Context, hand func(chunkResult)) error {
		return bf.read(ctx, slot, n, spec, limit, hand)
	})
}

// read runs on the reader's goroutine: low watermark, chunk, high
// watermark. It hands the chunk over before writing the high watermark,
// so the session has it when the watermark arrives.
func (bf *backfill) read(ctx context.Context, slot string, n int64, spec capture.ChunkSpec, limit int, hand func(chunkResult)) error {
	mark := func(kind string) error {
		b, _ := json.Marshal(watermark{Slot: slot, Run: bf.run, Chunk: n, Mark: kind})
		if _, err := bf.conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", watermarkPrefix, string(b)); err != nil {
			return fmt.Errorf("write the %s watermark of chunk %d of %s: %w", kind, n, bf.Req.Table, err)
		}
		return nil
	}
	if p, ok := bf.pacer.(capture.Pacer); ok && n > 1 {
		if err := p.Pace(ctx, bf.Req); err != nil {
			return err
		}
	}
	if err := mark("low"); err != nil {
		return err
	}
	res, err := bf.readChunk(ctx, spec, limit)
	if err != nil {
		return fmt.Errorf("read chunk %d of %s for scope %s: %w", n, bf.Req.Table, bf.Req.Scope, err)
	}
	hand(res)
	return mark("high")
}

func (bf *backfill) readChunk(ctx context.Context, spec capture.ChunkSpec, limit int) (chunkResult, error) {
	var res chunkResult
	tx, err := bf.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return res, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if res.xmin, res.xip, err = currentSnapshot(ctx, tx); err != nil {
		return res, err
	}
	table := quoteTable(bf.Req.Table)
	keys := make([]string, len(bf.ti.pk))
	for i, c := range bf.ti.pk {
		keys[i] = ident(c)
	}
	keyList := "(" + strings.Join(keys, ", ") + ")"
	if len(spec.Reread) > 0 {
		tuples := make([]string, len(spec.Reread))
		for i, k := range spec.Reread {
			tuples[i] = "(" + strings.Join(k, ", ") + ")"
		}
		w, args := capture.WhereClause(bf.Req.InScope, keyList+" IN ("+strings.Join(tuples, ", ")+")")
		if err := res.collect(ctx, tx, "SELECT * FROM "+table+w, args); err != nil {
			return res, err
		}
		res.nRead = len(res.rows)
	}
	if spec.Phase == capture.PhaseReread { // the range is done: only rows to read again
		return res, tx.Commit(ctx)
	}
	filter := bf.Req.Where
	if spec.Phase == capture.PhaseExit {
		filter = bf.Req.ExitWhere
	}
	after := func(conds []string, after []string) []string {
		if after != nil {
			conds = append(conds, keyList+" > ("+strings.Join(after, ", ")+")")
		}
		return conds
	}
	w, args := capture.WhereClause(filter, after(nil, spec.After)...)
	order := " ORDER BY " + strings.Join(keys, ", ")
	if len(bf.readers) < 2 || limit < 2*bf.minRows {
		q := "SELECT * FROM " + table + w + order + " LIMIT " + strconv.Itoa(limit)
		if err := res.collect(ctx, tx, q, args); err != nil {
			return res, err
		}
		res.more = len(res.rows)-res.nRead == limit
		res.parts = 1
		return res, tx.Commit(ctx)
	}
	// In parallel (capture.SplitChunk): the chunk's keys here, then its
	// rows by parts, each in a snapshot of its own.
	var chunkKeys [][]string
	kq := "SELECT " + strings.Join(keys, ", ") + " FROM " + table + w + order + " LIMIT " + strconv.Itoa(limit)
	if err := collectKeys(ctx, tx, kq, args, &chunkKeys); err != nil {
		return res, fmt.Errorf("read the chunk's keys: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return res, err
	}
	res.more = len(chunkKeys) == limit
	ranges := capture.SplitChunk(spec.After, chunkKeys, len(bf.readers), bf.minRows)
	res.parts = len(ranges)
	parts, err := capture.ReadRanges(ctx, ranges, func(ctx context.Context, i int, r capture.KeyRange) (chunkResult, error) {
		w, args := capture.WhereClause(filter, after([]string{keyList + " <= (" + strings.Join(r.Last, ", ") + ")"}, r.After)...)
		return bf.readRange(ctx, i, "SELECT * FROM "+table+w+order, args)
	})
	if err != nil {
		return res, err
	}
	for _, p := range parts {
		if res.fields != nil && !slices.Equal(fieldNames(res.fields), fieldNames(p.fields)) {
			return res, fmt.Errorf("read the chunk: the columns of %s changed between its parts", bf.Req.Table)
		}
		res.fields = p.fields
		res.rows = append(res.rows, p.rows...)
		if int32(p.xmin-res.xmin) < 0 { // an older snapshot: its transactions are not seen by all yet
			res.xmin = p.xmin
		}
		for x := range p.xip {
			res.xip[x] = true
		}
	}
	return res, nil
}

// readRange reads the rows of query on the reader connection i, which it
// opens the first time, in a REPEATABLE READ transaction of its own.
func (bf *backfill) readRange(ctx context.Context, i int, query string, args []any) (chunkResult, error) {
	var res chunkResult
	if bf.readers[i] == nil {
		conn, err := bf.connect(ctx)
		if err != nil {
			return res, err
		}
		bf.readers[i] = conn
	}
	tx, err := bf.readers[i].BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return res, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if res.xmin, res.xip, err = currentSnapshot(ctx, tx); err != nil {
		return res, err
	}
	if err := res.collect(ctx, tx, query, args); err != nil {
		return res, err
	}
	return res, tx.Commit(ctx)
}

// currentSnapshot reads the snapshot of tx (see parseSnapshot).
func currentSnapshot(ctx context.Context, tx pgx.Tx) (xmin uint32, xip map[uint32]bool, err error) {
	var snap string
	if err := tx.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&snap); err != nil {
		return 0, nil, fmt.Errorf("read the snapshot: %w", err)
	}
	return parseSnapshot(snap)
}

// collectKeys appends the rows of query, whose columns are a key, as
// tuples of literals.
func collectKeys(ctx context.Context, tx pgx.Tx, query string, args []any, keys *[][]string) error {
	rows, err := tx.Query(ctx, query, append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		raw := rows.RawValues()
		k := make([]string, len(raw))
		for i, v := range raw {
			k[i] = quoteLiteral(string(v))
		}
		*keys = append(*keys, k)
	}
	return rows.Err()
}

func fieldNames(fields []pgconn.FieldDescription) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return names
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

// literal renders a key value as a PostgreSQL literal.
func literal(v any) (string, bool) {
	switch v := v.(type) {
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case bool:
		return strconv.FormatBool(v), true
	case string:
		return quoteLiteral(v), true
	case capture.Decimal:
		return quoteLiteral(string(v)), true
	case time.Time:
		return quoteLiteral(v.Format(time.RFC3339Nano)), true
	case []byte:
		return quoteLiteral(`\x` + hex.EncodeToString(v)), true
	}
	return "", false
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
		bf.high = bf.InWindow()
	}
}

// backfillCommitted runs after the sink got the commit of txn (xid): it
// records the keys the transaction changed, opens the chunk's window
// after its low watermark, and sends the chunk after its high one.
func (ss *session) backfillCommitted(ctx context.Context, xid uint32, txn *capture.Txn) error {
	bf := ss.bf
	bf.Committed(uint64(xid))
	switch {
	case bf.low:
		bf.low = false
		bf.OpenWindow()
		if !bf.State.Truncated {
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
	tbl := bf.rel.table
	txn := &capture.Txn{ID: "snapshot", Pos: at.Pos + 1, Ack: at.Ack, CommitTime: at.CommitTime, Snapshot: true}
	if err := ss.sink.Begin(ctx, txn); err != nil {
		return err
	}
	if err := ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: tbl, Op: capture.OpTruncate, Scope: bf.Req.Scope}); err != nil {
		return err
	}
	bf.State.Truncated = true
	return ss.sink.Commit(ctx, txn)
}

// sendChunk passes the chunk, less the rows changes carry, as a snapshot
// transaction right after at, the high watermark's; records the state
// once it is durable; and starts the next chunk or ends the backfill. The
// next chunk's reader starts before this chunk goes to the sink, so that
// the source reads it while the sink routes and publishes this one; the
// session sees its low watermark only after this chunk's transaction.
func (ss *session) sendChunk(ctx context.Context, at *capture.Txn) error {
	bf := ss.bf
	res, ok := bf.reader.Rows()
	if !ok {
		return fmt.Errorf("backfill of %s: high watermark of chunk %d without its rows", bf.Req.Table, bf.chunk)
	}
	err := bf.EndWindow(func(xid uint64) bool { return res.xip[uint32(xid)] },
		func(xid uint64) bool { return int32(uint32(xid)-res.xmin) < 0 })
	if err != nil {
		return err
	}
	if len(res.fields) > 0 && !describes(bf.rel.table, res.fields) { // the table changed since
		r, err := ss.newRelation(ctx, relationOf(bf.Req.Table, res.fields, bf.ti.pk))
		if err != nil {
			return err
		}
		bf.rel = r
	}
	// The rows that go out are decoded first, so that the next chunk is
	// read while they are routed and published.
	r := bf.rel
	ncols := len(r.decoders)
	vals := make([]any, len(res.rows)*ncols)
	events := make([]capture.Event, 0, len(res.rows))
	txn := &capture.Txn{ID: "snapshot", Pos: at.Pos + 1, Ack: at.Ack, CommitTime: at.CommitTime, Snapshot: true}
	for i, raw := range res.rows {
		row := capture.Row(vals[i*ncols : (i+1)*ncols : (i+1)*ncols])
		for c, v := range raw {
			if v == nil {
				continue
			}
			var err error
			if row[c], err = r.decoders[c](v); err != nil {
				return fmt.Errorf("backfill %s: decode %s: %w", bf.Req.Table, r.table.Columns[c].Name, err)
			}
		}
		keep, err := bf.Keep(r.table, row, i < res.nRead)
		if err != nil {
			return err
		}
		if !keep {
			continue
		}
		ev := capture.Event{Txn: txn, Table: r.table, Op: capture.OpRead, After: row, Scope: bf.Req.Scope}
		if i >= res.nRead && bf.ChunkPhase() == capture.PhaseExit {
			ev.Op, ev.Before, ev.After = capture.OpDelete, row, nil
		}
		events = append(events, ev)
	}
	sent := len(events)
	finishes := bf.Finishes(res.more)
	var last []string // the key of the last row the range read, sent or not
	if n := len(res.rows); n > res.nRead {
		last = make([]string, len(bf.ti.pk))
		for i, c := range bf.ti.pk {
			for f := range res.fields {
				if res.fields[f].Name == c {
					last[i] = quoteLiteral(string(res.rows[n-1][f]))
				}
			}
		}
	}
	state, chunk := bf.Advance(last, res.more, sent), bf.chunk
	if err := bf.reader.Wait(); err != nil { // the read has ended: it wrote the high watermark
		return err
	}
	done := bf.Done() // asked before next, which takes the rows to read again
	if !done {
		bf.next(ctx, ss.src.cfg.Slot, ss.chunkRows(false))
	}

	if err := ss.sink.Begin(ctx, txn); err != nil {
		return err
	}
	for i := range events {
		if err := ss.sink.Change(ctx, &events[i]); err != nil {
			return err
		}
	}
	if finishes {
		if err := capture.EndCopy(ctx, ss.sink, txn, r.table, bf.Req.Scope, sent); err != nil {
			return err
		}
	}
	if err := ss.sink.Commit(ctx, txn); err != nil {
		return err
	}
	bf.prog.Rows = bf.State.Rows
	ss.reportProgress(bf.prog)
	ss.src.log.Debug("backfill chunk", "scope", bf.Req.Scope, "table", bf.Req.Table.String(), "chunk", chunk, "read", len(res.rows), "parts", res.parts, "sent", sent)
	bf.prog.Log(ss.src.log)
	if done {
		return ss.finishBackfill(ctx)
	}
	// The chunk's state is recorded once it is durable.
	bf.states.Sent(txn.Ack, state, bf.State.Rows)
	return ss.recordBackfill(ctx)
}

// recordBackfill records the state after the last chunk sent that is
// durable, and confirms no position past it from then on.
func (ss *session) recordBackfill(ctx context.Context) error {
	bf := ss.bf
	ack, ok, err := bf.states.Record(ctx, ss.sink, ss.snapshotter, bf.Req)
	if ok {
		bf.hold = ack
	}
	return err
}

// describes reports whether t has the columns of fields, by name.
func describes(t *capture.Table, fields []pgconn.FieldDescription) bool {
	if len(t.Columns) != len(fields) {
		return false
	}
	for i, f := range fields {
		if t.Columns[i].Name != f.Name {
			return false
		}
	}
	return true
}

// finishBackfill records the backfill done, once every chunk is durable,
// and prepares the next snapshot.
func (ss *session) finishBackfill(ctx context.Context) error {
	bf := ss.bf
	if err := ss.sink.Drain(ctx); err != nil {
		return fmt.Errorf("finish backfill of %s: %w", bf.Req.Table, err)
	}
	if err := ss.snapshotter.SnapshotDone(ctx, bf.Req, bf.State.Rows); err != nil {
		return err
	}
	ss.src.log.Info("snapshot done", "scope", bf.Req.Scope, "table", bf.Req.Table.String(), "rows", bf.State.Rows, "chunks", bf.chunk, "took", time.Since(bf.started).Round(time.Millisecond))
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
	bf.reader.Stop()
	bf.conn.Close(context.WithoutCancel(ctx))
	for _, c := range bf.readers {
		if c != nil {
			c.Close(context.WithoutCancel(ctx))
		}
	}
	ss.bf = nil
}

// backfillFailed returns the reader's error if it ended with one.
func (ss *session) backfillFailed() error {
	if ss.bf == nil {
		return nil
	}
	return ss.bf.reader.Failed()
}
