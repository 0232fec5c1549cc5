package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// A backfill copies the rows of one snapshot request online, in chunks,
// while the session goes on streaming, in the manner of DBLog (Netflix)
// and Debezium's incremental snapshots (capture.Snapshotter). It holds no
// lock and no long transaction.
//
// For each chunk a reader goroutine INSERTs a low watermark into the
// signal table (signal.go), reads the next rows in key order in a short
// transaction, START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY,
// begun after the INSERT returned, and INSERTs a high watermark. The
// session sees the watermarks in the binlog. The rows the transactions
// between them changed are dropped from the chunk: those changes, already
// passed on, carry them, and the read may or may not have seen them. The
// rest of the chunk goes out as one snapshot transaction right after the
// high watermark, where it is exact.
//
// Unlike PostgreSQL, no transaction before the low watermark can be
// invisible to the read, and none after the high watermark visible: with
// the binlog on, MariaDB commits transactions in the storage engine in
// binlog order (the handlerton's commit_ordered, called in binlog order by
// the group commit: "an enhanced storage engine API for COMMIT that allows
// engines to coordinate commit ordering and visibility with each other and
// with the binary log", https://mariadb.com/kb/en/enhancements-for-start-transaction-with-consistent-snapshot/,
// and https://mariadb.com/kb/en/group-commit-for-the-binary-log/). So when
// the low watermark's autocommit INSERT has returned, every transaction
// before it in the binlog is visible to a snapshot begun afterwards; and a
// transaction the read sees committed before the high watermark's INSERT
// began, so it is before it in the binlog. The one-transaction snapshot
// (snapshot.go) rests on the same property, through binlog_snapshot_position.
// MySQL gives it with binlog_order_commits = ON, its default.
//
// The next chunk is read while the last one is published. Once a chunk
// is durable the sink records the backfill's state; the session saves no
// position past the last recorded chunk, so that a restart resumes from
// the state and replays every change after it.

// defaultChunkRows is how many rows a chunk reads at most.
const defaultChunkRows = 10000

// backfill is a running chunked backfill. The session goroutine owns it;
// the reader's goroutine only uses conn and readers.
type backfill struct {
	*capture.Backfill
	pk   []string
	run  string
	db   *sql.DB
	conn *sql.Conn
	// readers read a chunk's parts in parallel, each taken from db when
	// first needed; minRows is the fewest rows of a part.
	readers []*sql.Conn
	minRows int
	prog    *capture.SnapshotProgress
	cols    []catalogColumn // of the table as the last chunk read it
	table   *capture.Table
	conv    []converter
	chunk   int64            // number of the chunk in flight
	low     bool             // the open transaction carries its low watermark
	high    bool             // the open transaction carries its high watermark
	hold    capture.Position // save no position past it: the last chunk recorded

	unrecorded capture.ChunkStates // of chunks sent, not yet known durable
	txns       uint64              // transactions committed, to number them

	started time.Time

	reader *capture.ChunkReader[chunkResult]
}

// chunkResult is what the reader read for one chunk.
type chunkResult struct {
	cols  []catalogColumn
	rows  [][][]byte // raw text values; the first nReread from the reread query
	nRead int
	more  bool // the range read filled the chunk: more rows may follow
	parts int  // how many reads read the range at once
}

// backfillable reports whether the table's key columns, as cols describe
// them, can be rendered as literals and compared in key order by SQL as
// the chunks need; tables with other keys take the one-transaction
// snapshot.
func backfillable(cols []catalogColumn, pk []string) bool {
	for _, k := range pk {
		i := slices.IndexFunc(cols, func(c catalogColumn) bool { return c.name == k })
		if i < 0 {
			return false
		}
		switch c := cols[i]; c.dataType {
		case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year", "decimal", "numeric",
			"binary", "varbinary", "date", "datetime":
		case "char", "varchar":
			if c.charset == "binary" {
				return false
			}
		default:
			return false
		}
	}
	return len(pk) > 0
}

// startBackfill begins a chunked backfill of req.
func (ss *session) startBackfill(ctx context.Context, req capture.SnapshotRequest, ti *tableInfo) error {
	db, err := ss.src.openDB(map[string]string{"time_zone": "'+00:00'"})
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1 + ss.src.cfg.Parallelism) // the watermarks' and the readers'
	conn, err := db.Conn(ctx)
	if err == nil {
		err = ss.openBackfill(ctx, req, ti, db, conn)
		if err != nil {
			conn.Close()
		}
	}
	if err != nil {
		db.Close()
		return fmt.Errorf("start the backfill of %s: %w", req.Table, err)
	}
	return nil
}

func (ss *session) openBackfill(ctx context.Context, req capture.SnapshotRequest, ti *tableInfo, db *sql.DB, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return fmt.Errorf("set the isolation level: %w", err)
	}
	core, err := capture.NewBackfill(req, ti.pk, literal)
	if err != nil {
		return retry.Terminal(err)
	}
	// The table as the catalog has it now: the truncate carries it, so
	// that its schema is recorded even if no row follows.
	cols, err := catalogColumns(ctx, conn, req.Table)
	if err != nil {
		return err
	}
	table, conv, err := snapshotTable(req.Table, cols, ti.pk)
	if err != nil {
		return err
	}
	bf := &backfill{
		Backfill: core, pk: ti.pk, db: db, conn: conn, cols: cols, table: table, conv: conv,
		readers: make([]*sql.Conn, ss.src.cfg.Parallelism), minRows: ss.src.cfg.MinRangeRows,
		run:     strconv.FormatInt(time.Now().UnixNano(), 36),
		hold:    ss.last.position(),
		started: time.Now(),
		reader:  capture.NewChunkReader[chunkResult](),
	}
	bf.prog = &capture.SnapshotProgress{Scope: req.Scope, Table: req.Table.String(), Rows: bf.State.Rows, Estimate: estimate(ctx, conn, req.Table), Started: bf.started}
	ss.bf = bf
	ss.src.log.Info("backfill started", "scope", req.Scope, "table", req.Table.String(), "resumed", req.Resume != nil, "rows_so_far", bf.State.Rows, "estimated_rows", bf.prog.Estimate)
	ss.reportProgress(bf.prog)
	ss.nextChunk(ctx)
	return nil
}

// nextChunk starts the reader of the next chunk.
func (ss *session) nextChunk(ctx context.Context) {
	bf := ss.bf
	bf.chunk++
	limit := ss.src.cfg.ChunkRows
	spec, delay := bf.Next(limit)
	bf.low, bf.high = false, false
	n, signal := bf.chunk, quoteTable(ss.src.signalTable())
	mark := func(ctx context.Context, kind string) error {
		b, _ := json.Marshal(signalMark{Source: ss.src.cfg.Name, ServerID: ss.src.cfg.ServerID, Run: bf.run, Chunk: n, Mark: kind})
		if _, err := bf.conn.ExecContext(ctx, "INSERT INTO "+signal+" (watermark) VALUES (?)", string(b)); err != nil {
			return fmt.Errorf("write the %s watermark of chunk %d of %s into the signal table %s (the user needs INSERT on it): %w", kind, n, bf.Req.Table, signal, err)
		}
		return nil
	}
	pacer, _ := ss.snapshotter.(capture.Pacer)
	bf.reader.Start(ctx, delay, func(ctx context.Context, hand func(chunkResult)) error {
		if pacer != nil && n > 1 { // let the targets catch up with the chunks sent
			if err := pacer.Pace(ctx, bf.Req); err != nil {
				return err
			}
		}
		if err := mark(ctx, "low"); err != nil {
			return err
		}
		res, err := bf.readChunk(ctx, spec, limit)
		if err != nil {
			return fmt.Errorf("read chunk %d of %s for scope %s: %w", n, bf.Req.Table, bf.Req.Scope, err)
		}
		hand(res)
		return mark(ctx, "high")
	})
}

func (bf *backfill) readChunk(ctx context.Context, spec capture.ChunkSpec, limit int) (res chunkResult, err error) {
	if _, err := bf.conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return res, fmt.Errorf("start the chunk's transaction: %w", err)
	}
	defer func() {
		if _, cerr := bf.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err == nil && cerr != nil {
			err = fmt.Errorf("end the chunk's transaction: %w", cerr)
		}
	}()
	if res.cols, err = catalogColumns(ctx, bf.conn, bf.Req.Table); err != nil {
		return res, err
	}
	t, conv, err := snapshotTable(bf.Req.Table, res.cols, bf.pk)
	if err != nil {
		return res, err
	}
	keys := make([]string, len(bf.pk))
	for i, c := range bf.pk {
		keys[i] = quoteIdent(c)
	}
	keyList := "(" + strings.Join(keys, ", ") + ")"
	list := selectList(t)
	sel := "SELECT " + strings.Join(list, ", ") + " FROM " + quoteTable(bf.Req.Table)
	if len(spec.Reread) > 0 {
		tuples := make([]string, len(spec.Reread))
		for i, k := range spec.Reread {
			tuples[i] = "(" + strings.Join(k, ", ") + ")"
		}
		w, args := capture.WhereClause(bf.Req.InScope, keyList+" IN ("+strings.Join(tuples, ", ")+")")
		if err := res.collect(ctx, bf.conn, sel+w, args); err != nil {
			return res, err
		}
		res.nRead = len(res.rows)
	}
	if spec.Phase == capture.PhaseReread { // the range is done: only rows to read again
		return res, nil
	}
	after := func(conds []string, after []string) []string {
		if after != nil {
			conds = append(conds, keyList+" > ("+strings.Join(after, ", ")+")")
		}
		return conds
	}
	filter := bf.Req.Where
	if spec.Phase == capture.PhaseExit {
		filter = bf.Req.ExitWhere
	}
	w, args := capture.WhereClause(filter, after(nil, spec.After)...)
	order := " ORDER BY " + strings.Join(keys, ", ")
	if len(bf.readers) < 2 || limit < 2*bf.minRows {
		if err := res.collect(ctx, bf.conn, sel+w+order+" LIMIT "+strconv.Itoa(limit), args); err != nil {
			return res, err
		}
		res.more = len(res.rows)-res.nRead == limit
		res.parts = 1
		return res, nil
	}
	// In parallel (capture.SplitChunk): the chunk's keys here, then its
	// rows by parts, each in a consistent snapshot of its own, begun after
	// the low watermark was written, ended before the high one is.
	keyCols := make([]string, len(t.Key))
	for i, k := range t.Key {
		keyCols[i] = list[k]
	}
	kres := chunkResult{cols: make([]catalogColumn, len(t.Key))}
	if err := kres.collect(ctx, bf.conn, "SELECT "+strings.Join(keyCols, ", ")+" FROM "+quoteTable(bf.Req.Table)+w+order+" LIMIT "+strconv.Itoa(limit), args); err != nil {
		return res, fmt.Errorf("read the chunk's keys: %w", err)
	}
	chunkKeys := make([][]string, len(kres.rows))
	for r, raw := range kres.rows {
		chunkKeys[r] = make([]string, len(t.Key))
		for i, k := range t.Key {
			v, err := conv[k](raw[i])
			if err != nil {
				return res, fmt.Errorf("decode %s: %w", t.Columns[k].Name, err)
			}
			lit, ok := literal(v)
			if !ok {
				return res, retry.Terminal(fmt.Errorf("backfill of %s: cannot render key column %s of type %T", bf.Req.Table, t.Columns[k].Name, v))
			}
			chunkKeys[r][i] = lit
		}
	}
	res.more = len(chunkKeys) == limit
	ranges := capture.SplitChunk(spec.After, chunkKeys, len(bf.readers), bf.minRows)
	res.parts = len(ranges)
	parts, err := capture.ReadRanges(ctx, ranges, func(ctx context.Context, i int, r capture.KeyRange) ([][][]byte, error) {
		w, args := capture.WhereClause(filter, after([]string{keyList + " <= (" + strings.Join(r.Last, ", ") + ")"}, r.After)...)
		return bf.readRange(ctx, i, sel+w+order, args, len(res.cols))
	})
	if err != nil {
		return res, err
	}
	for _, rows := range parts {
		res.rows = append(res.rows, rows...)
	}
	return res, nil
}

// readRange reads the rows of query, of ncols columns, on the reader
// connection i, which it takes from the backfill's pool the first time,
// in a consistent snapshot of its own.
func (bf *backfill) readRange(ctx context.Context, i int, query string, args []any, ncols int) (rows [][][]byte, err error) {
	conn := bf.readers[i]
	if conn == nil {
		if conn, err = bf.db.Conn(ctx); err != nil {
			return nil, fmt.Errorf("connect a reader: %w", err)
		}
		if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			conn.Close()
			return nil, fmt.Errorf("set the isolation level: %w", err)
		}
		bf.readers[i] = conn
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return nil, fmt.Errorf("start the part's transaction: %w", err)
	}
	defer func() {
		if _, cerr := conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err == nil && cerr != nil {
			err = fmt.Errorf("end the part's transaction: %w", cerr)
		}
	}()
	res := chunkResult{cols: make([]catalogColumn, ncols)}
	err = res.collect(ctx, conn, query, args)
	return res.rows, err
}

// collect appends the rows of query, as copies of their text values.
func (res *chunkResult) collect(ctx context.Context, conn *sql.Conn, query string, args []any) error {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(res.cols))
	dest := make([]any, len(raw))
	for i := range raw {
		dest[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
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

// literal renders a key value, as the binlog and the chunks decode it, as
// a MySQL literal: numbers as they are, text as a hex string of utf8mb4
// (immune to the server's sql_mode), bytes as a hex string.
func literal(v any) (string, bool) {
	switch v := v.(type) {
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case capture.Decimal:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return "", false
		}
		return string(v), true
	case string:
		return "_utf8mb4 X'" + hex.EncodeToString([]byte(v)) + "'", true
	case []byte:
		return "X'" + hex.EncodeToString(v) + "'", true
	}
	return "", false
}

// backfillCommitted runs after the commit at end of a transaction read:
// it records the keys the transaction changed, opens the chunk's window
// after its low watermark, and sends the chunk after its high one.
func (ss *session) backfillCommitted(ctx context.Context, end capture.Position) error {
	bf := ss.bf
	bf.txns++
	bf.Committed(bf.txns)
	switch {
	case bf.low:
		bf.low = false
		bf.OpenWindow()
		if !bf.State.Truncated {
			return ss.sendTruncate(ctx, end)
		}
	case bf.high:
		bf.high = false
		return ss.sendChunk(ctx, end)
	}
	return nil
}

// snapshotTxn begins a snapshot transaction right after the transaction
// ending at end, a watermark's.
func (ss *session) snapshotTxn(ctx context.Context, end capture.Position) (*capture.Txn, error) {
	txn := &capture.Txn{ID: "snapshot", Pos: end + 1, Ack: end + 1, CommitTime: time.Now().UTC(), Snapshot: true}
	if err := ss.sink.Begin(ctx, txn); err != nil {
		return nil, err
	}
	ss.unflushed = true
	return txn, nil
}

// commitSnapshotTxn commits txn and queues its resume state, the
// watermark's.
func (ss *session) commitSnapshotTxn(ctx context.Context, txn *capture.Txn) error {
	if err := ss.sink.Commit(ctx, txn); err != nil {
		return err
	}
	ss.queue.push(savePoint{ack: txn.Ack, st: ss.resumeAt(ss.last), sent: true})
	return nil
}

// sendTruncate passes the backfill's truncate as a snapshot transaction
// right after the first low watermark's, ending at end.
func (ss *session) sendTruncate(ctx context.Context, end capture.Position) error {
	bf := ss.bf
	txn, err := ss.snapshotTxn(ctx, end)
	if err != nil {
		return err
	}
	if err := ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: bf.table, Op: capture.OpTruncate, Scope: bf.Req.Scope}); err != nil {
		return err
	}
	bf.State.Truncated = true
	return ss.commitSnapshotTxn(ctx, txn)
}

// sendChunk passes the chunk, less the rows changes carry, as a snapshot
// transaction right after the high watermark's, ending at end; records
// the state once it is durable; and starts the next chunk or ends the
// backfill.
func (ss *session) sendChunk(ctx context.Context, end capture.Position) error {
	bf := ss.bf
	res, ok := bf.reader.Rows()
	if !ok {
		return fmt.Errorf("backfill of %s: high watermark of chunk %d without its rows", bf.Req.Table, bf.chunk)
	}
	if err := bf.EndWindow(nil, nil); err != nil { // see the visibility argument at the top
		return err
	}
	if !slices.Equal(bf.cols, res.cols) {
		t, conv, err := snapshotTable(bf.Req.Table, res.cols, bf.pk)
		if err != nil {
			return err
		}
		bf.cols, bf.table, bf.conv = res.cols, t, conv
	}
	txn, err := ss.snapshotTxn(ctx, end)
	if err != nil {
		return err
	}
	t := bf.table
	row := make(capture.Row, len(t.Columns))
	var sent int
	for i, raw := range res.rows {
		for c, v := range raw {
			if v == nil {
				row[c] = nil
				continue
			}
			if row[c], err = bf.conv[c](v); err != nil {
				return fmt.Errorf("backfill %s: decode %s: %w", bf.Req.Table, t.Columns[c].Name, err)
			}
		}
		keep, err := bf.Keep(t, row, i < res.nRead)
		if err != nil {
			return err
		}
		if !keep {
			continue
		}
		ev := capture.Event{Txn: txn, Table: t, Op: capture.OpRead, After: row, Scope: bf.Req.Scope}
		if i >= res.nRead && bf.ChunkPhase() == capture.PhaseExit {
			ev.Op, ev.Before, ev.After = capture.OpDelete, row, nil
		}
		if err := ss.sink.Change(ctx, &ev); err != nil {
			return err
		}
		sent++
	}
	if bf.Finishes(res.more) {
		if err := capture.EndCopy(ctx, ss.sink, txn, t, bf.Req.Scope, sent); err != nil {
			return err
		}
	}
	if err := ss.commitSnapshotTxn(ctx, txn); err != nil {
		return err
	}
	var last []string // the key of the last row the range read, sent or not
	if n := len(res.rows); n > res.nRead {
		for _, k := range t.Key {
			v, err := bf.conv[k](res.rows[n-1][k])
			if err != nil {
				return fmt.Errorf("backfill %s: decode %s: %w", bf.Req.Table, t.Columns[k].Name, err)
			}
			lit, ok := literal(v)
			if !ok {
				return retry.Terminal(fmt.Errorf("backfill of %s: cannot render key column %s of type %T", bf.Req.Table, t.Columns[k].Name, v))
			}
			last = append(last, lit)
		}
	}
	state := bf.Advance(last, res.more, sent)
	bf.prog.Rows = bf.State.Rows
	ss.reportProgress(bf.prog)
	ss.src.log.Debug("backfill chunk", "scope", bf.Req.Scope, "table", bf.Req.Table, "chunk", bf.chunk, "read", len(res.rows), "parts", res.parts, "sent", sent)
	bf.prog.Log(ss.src.log)
	if err := bf.reader.Wait(); err != nil { // the reader has ended: it wrote the high watermark
		return err
	}
	if bf.Done() {
		return ss.finishBackfill(ctx)
	}
	// The next chunk is read while this one is published; its state is
	// recorded once it is durable.
	bf.unrecorded.Sent(txn.Ack, state, bf.State.Rows)
	ss.nextChunk(ctx)
	return ss.recordBackfill(ctx)
}

// recordBackfill records the state after the last chunk sent that is
// durable, and confirms no position past it from then on.
func (ss *session) recordBackfill(ctx context.Context) error {
	bf := ss.bf
	ack, ok, err := bf.unrecorded.Record(ctx, ss.sink, ss.snapshotter, bf.Req)
	if ok {
		bf.hold = ack
	}
	return err
}

// finishBackfill records the backfill done, removes the source's
// watermarks from the signal table and prepares the next snapshot.
func (ss *session) finishBackfill(ctx context.Context) error {
	bf := ss.bf
	if err := ss.sink.Drain(ctx); err != nil {
		return fmt.Errorf("finish backfill of %s: %w", bf.Req.Table, err)
	}
	ss.unflushed = false
	if err := ss.snapshotter.SnapshotDone(ctx, bf.Req, bf.State.Rows); err != nil {
		return err
	}
	ss.src.log.Info("snapshot done", "scope", bf.Req.Scope, "table", bf.Req.Table.String(), "rows", bf.State.Rows, "chunks", bf.chunk, "took", time.Since(bf.started).Round(time.Millisecond))
	// The source's watermarks have done their work once in the binlog:
	// this backfill's, and those of backfills cut short by a restart.
	prefix, _ := json.Marshal(signalMark{Source: ss.src.cfg.Name, ServerID: ss.src.cfg.ServerID})
	like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(string(prefix[:bytes.Index(prefix, []byte(`,"run"`))])) + ",%"
	_, err := bf.conn.ExecContext(ctx, "DELETE FROM "+quoteTable(ss.src.signalTable())+" WHERE watermark LIKE ?", like)
	if err != nil {
		ss.src.log.Warn("could not delete the backfill's watermarks from the signal table", "table", ss.src.signalTable(), "error", err)
	}
	ss.stopBackfill()
	ss.src.setStatus(func(st *Status) { st.Snapshot, st.SnapshotsPending = nil, len(ss.toSnapshot) })
	return ss.prepareSnapshot(ctx)
}

// stopBackfill ends the reader and closes its connection.
func (ss *session) stopBackfill() {
	bf := ss.bf
	if bf == nil {
		return
	}
	bf.reader.Stop()
	bf.conn.Close()
	for _, c := range bf.readers {
		if c != nil {
			c.Close()
		}
	}
	bf.db.Close()
	ss.bf = nil
}

// backfillFailed returns the reader's error if it ended with one.
func (ss *session) backfillFailed() error {
	if ss.bf == nil {
		return nil
	}
	return ss.bf.reader.Failed()
}
