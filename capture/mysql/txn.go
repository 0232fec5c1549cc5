package mysql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/syncd-dev/syncd/capture"
)

// Transactions: from a GTID event (or BEGIN) to the XID, COMMIT or DDL
// that ends them, turned into Begin, Change and Commit calls on the sink.

func (ss *session) query(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent) error {
	q := strings.TrimSpace(string(e.Query))
	word := strings.ToUpper(firstWord(q))
	switch {
	case word == "BEGIN" || strings.EqualFold(q, "START TRANSACTION"):
		if ss.txn == nil {
			if _, err := ss.begin(ctx, h, ""); err != nil {
				return err
			}
		}
		ss.txn.inBegin = true
		return nil
	case word == "XA":
		return ss.xaQuery(ctx, h, q)
	case word == "COMMIT" || word == "ROLLBACK":
		if ss.txn == nil {
			return nil
		}
		return ss.commit(ctx, h)
	case ss.txn != nil && ss.txn.inBegin:
		return nil // SAVEPOINT and the like inside a transaction
	}
	// A statement of its own: DDL.
	t := ss.txn
	if t == nil {
		var err error
		if t, err = ss.begin(ctx, h, ""); err != nil {
			return err
		}
	}
	end, err := position(ss.file, h.LogPos)
	if err != nil {
		return err
	}
	t.end = end
	if id, ok := truncated(q, string(e.Schema)); ok && ss.srv.tables[id] != nil && !t.skip {
		tm := ss.latestTable(id)
		if err := ss.beginSink(ctx, t); err != nil {
			return err
		}
		if err := ss.change(ctx, &capture.Event{Txn: t.ctxn, Table: tm, Op: capture.OpTruncate}); err != nil {
			return err
		}
	} else {
		d := DDL{Pos: end, File: ss.file, Offset: h.LogPos, Schema: string(e.Schema), Query: shorten(q, 500), At: time.Unix(int64(h.Timestamp), 0).UTC()}
		ss.hist.ddls = append(ss.hist.ddls, d)
		if len(ss.hist.ddls) > 16 {
			ss.hist.ddls = ss.hist.ddls[1:]
		}
		ss.src.log.Info("schema change", "pos", end, "file", d.File, "offset", d.Offset, "schema", d.Schema, "query", d.Query)
		ss.src.setStatus(func(st *Status) { st.LastDDL = &d })
	}
	return ss.commit(ctx, h)
}

// latestTable returns the last table version the binlog described for
// id, or one with no columns if none yet (a truncate needs only the name).
func (ss *session) latestTable(id capture.TableID) *capture.Table {
	for _, tm := range ss.byID {
		if tm != nil && tm.table.ID() == id {
			return tm.table
		}
	}
	if t := ss.hist.named[id]; t != nil {
		return t
	}
	if ss.hist.named == nil {
		ss.hist.named = map[capture.TableID]*capture.Table{}
	}
	t := &capture.Table{Schema: id.Schema, Name: id.Name}
	ss.hist.named[id] = t
	return t
}

func (ss *session) tableMap(e *replication.TableMapEvent) error {
	id := capture.TableID{Schema: string(e.Schema), Name: string(e.Table)}
	if id == ss.src.signalTable() {
		ss.signalIDs[e.TableID] = true
	} else {
		delete(ss.signalIDs, e.TableID)
	}
	ss.originTable(e.TableID, id)
	if ss.srv.tables[id] == nil {
		ss.byID[e.TableID] = nil
		return nil
	}
	sig := tableSignature(e)
	tm := ss.hist.byMeta[sig]
	if tm == nil {
		var err error
		if tm, err = newTableMap(e, ss.cs); err != nil {
			return err
		}
		ss.hist.byMeta[sig] = tm
		ss.src.log.Debug("table version", "table", id, "columns", len(tm.table.Columns))
	}
	ss.byID[e.TableID] = tm
	return nil
}

// rows passes a rows event of a published table to the sink. Until the
// transaction's commit position is known (it is the Txn's Pos, which the
// sink needs from Begin on), up to bufferRows rows and bufferBytes wait;
// beyond that the position is looked up ahead in the binlog.
func (ss *session) rows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent) error {
	if ss.signalIDs[e.TableID] {
		ss.signal(e)
		return nil
	}
	ss.originMark(e)
	tm := ss.byID[e.TableID]
	if tm == nil || len(e.Rows) == 0 {
		return nil
	}
	t := ss.txn
	if t == nil {
		return fmt.Errorf("rows of %s outside a transaction at %s", tm.table.ID(), ss.readPos)
	}
	switch {
	case t.xa:
		return ss.holdXA(t, tm, e, int(h.EventSize))
	case t.skip:
		return nil // published before the last stop
	case t.ctxn != nil:
		return ss.emit(ctx, t, tm, e)
	}
	t.buf = append(t.buf, heldRows{tm, e})
	t.bufRows += len(e.Rows)
	t.bufBytes += int(h.EventSize)
	if t.end == 0 {
		if t.bufRows <= bufferRows && t.bufBytes <= bufferBytes {
			return nil
		}
		end, err := ss.lookahead(ctx, t)
		if err != nil {
			return err
		}
		t.end = end
	}
	return ss.beginSink(ctx, t)
}

// beginSink begins t at the sink and passes the rows it held back.
func (ss *session) beginSink(ctx context.Context, t *openTxn) error {
	if t.ctxn != nil {
		return nil
	}
	id := t.id
	if id == "" {
		id = fmt.Sprintf("%s:%d", t.startFile, uint32(t.end))
	}
	t.ctxn = &capture.Txn{ID: id, Pos: t.end, Ack: t.end, CommitTime: t.commitTime, Origin: t.origin}
	if err := ss.sink.Begin(ctx, t.ctxn); err != nil {
		return err
	}
	ss.unflushed = true
	buf := t.buf
	t.buf, t.bufRows, t.bufBytes = nil, 0, 0
	for _, r := range buf {
		if err := ss.emit(ctx, t, r.tm, r.e); err != nil {
			return err
		}
	}
	return nil
}

// heldRows is a rows event held back, with the table version it was
// logged with.
type heldRows struct {
	tm *tableMap
	e  *replication.RowsEvent
}

// emit passes the rows of a rows event of the table version tm to the
// sink one by one.
func (ss *session) emit(ctx context.Context, t *openTxn, tm *tableMap, e *replication.RowsEvent) error {
	skipped := func(i int) []int {
		if i < len(e.SkippedColumns) {
			return e.SkippedColumns[i]
		}
		return nil
	}
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		for i, r := range e.Rows {
			if err := tm.decode(r, skipped(i), tm.after); err != nil {
				return err
			}
			if err := ss.change(ctx, &capture.Event{Txn: t.ctxn, Table: tm.table, Op: capture.OpInsert, After: tm.after}); err != nil {
				return err
			}
		}
	case replication.EnumRowsEventTypeUpdate:
		for i := 0; i+1 < len(e.Rows); i += 2 {
			if err := tm.decode(e.Rows[i], skipped(i), tm.before); err != nil {
				return err
			}
			if err := tm.decode(e.Rows[i+1], skipped(i+1), tm.after); err != nil {
				return err
			}
			if err := ss.change(ctx, &capture.Event{Txn: t.ctxn, Table: tm.table, Op: capture.OpUpdate, Before: tm.before, After: tm.after}); err != nil {
				return err
			}
		}
	case replication.EnumRowsEventTypeDelete:
		for i, r := range e.Rows {
			if err := tm.decode(r, skipped(i), tm.before); err != nil {
				return err
			}
			if err := ss.change(ctx, &capture.Event{Txn: t.ctxn, Table: tm.table, Op: capture.OpDelete, Before: tm.before}); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("rows event of unknown kind for %s", tm.table.ID())
	}
	return nil
}

func (ss *session) change(ctx context.Context, ev *capture.Event) error {
	ss.unflushed = true
	ss.counter(ev.Table, ev.Op).Inc()
	if ss.bf != nil {
		if err := ss.bf.Touch(ev); err != nil {
			return err
		}
	}
	return ss.sink.Change(ctx, ev)
}

func (ss *session) counter(t *capture.Table, op capture.Op) prometheus.Counter {
	k := counterKey{t, op}
	c, ok := ss.counters[k]
	if !ok {
		if ss.counters == nil {
			ss.counters = map[counterKey]prometheus.Counter{}
		}
		c = ss.src.metrics.Events.WithLabelValues(t.ID().String(), op.String())
		ss.counters[k] = c
	}
	return c
}

// counterKey is a table version and an op.
type counterKey struct {
	t  *capture.Table
	op capture.Op
}

// commit ends the open transaction at the event h (XID, COMMIT, or the
// DDL itself): commits it at the sink if it reached it, advances the GTID
// state and queues the resume state until it is durable.
func (ss *session) commit(ctx context.Context, h *replication.EventHeader) error {
	t := ss.txn
	if t == nil {
		return nil
	}
	end, err := position(ss.file, h.LogPos)
	if err != nil {
		return err
	}
	if t.end != 0 && t.end != end {
		return fmt.Errorf("transaction %s ends at %s, not at %s as looked up", t.id, end, t.end)
	}
	t.end = end
	if t.ctxn == nil && len(t.buf) > 0 && !t.skip {
		t.commitTime = time.Unix(int64(h.Timestamp), 0).UTC()
		if err := ss.beginSink(ctx, t); err != nil {
			return err
		}
	}
	if err := ss.passSwitches(ctx, t); err != nil {
		return err
	}
	if t.ctxn != nil {
		if err := ss.sink.Commit(ctx, t.ctxn); err != nil {
			return err
		}
		ss.unflushed = true
	}
	if err := t.addGTID(); err != nil {
		return fmt.Errorf("add gtid %s: %w", t.id, err)
	}
	ss.txn = nil
	ss.last = state{Flavor: ss.srv.flavor, File: ss.file, Pos: h.LogPos, GTID: ss.gtids.String()}
	ss.queue.push(savePoint{ack: end, st: ss.resumeAt(ss.last), sent: t.ctxn != nil})
	if ss.skipTo != 0 && end >= ss.skipTo {
		ss.skipTo = 0 // read past what was published: nothing more to skip
	}
	if ss.bf != nil {
		if err := ss.backfillFailed(); err != nil {
			return err
		}
		if err := ss.backfillCommitted(ctx, end); err != nil {
			return err
		}
	}
	if err := ss.takeAddedSnapshots(ctx); err != nil {
		return err
	}
	if ss.unflushed && time.Since(ss.lastFlush) > flushEvery {
		return ss.flush(ctx)
	}
	return nil
}

// lookahead finds where the open transaction commits by listing the
// events after its start with SHOW BINLOG EVENTS, without decoding them:
// 64 events first, then four times as many each round, up to 4,096.
func (ss *session) lookahead(ctx context.Context, t *openTxn) (capture.Position, error) {
	from := uint64(t.startOff)
	for limit := 64; ; limit = min(4*limit, 4096) {
		rows, err := queryMaps(ctx, ss.db, fmt.Sprintf("SHOW BINLOG EVENTS IN %s FROM %d LIMIT %d", quoteString(t.startFile), from, limit))
		if err != nil {
			return 0, fmt.Errorf("look up the commit of transaction %s at %s:%d: %w", t.id, t.startFile, t.startOff, err)
		}
		if len(rows) == 0 {
			return 0, fmt.Errorf("look up the commit of transaction %s at %s:%d: no commit in the file", t.id, t.startFile, t.startOff)
		}
		for _, r := range rows {
			var endPos uint64
			if _, err := fmt.Sscan(r["end_log_pos"], &endPos); err != nil {
				return 0, fmt.Errorf("look up the commit of transaction %s: end_log_pos %q", t.id, r["end_log_pos"])
			}
			info := strings.ToUpper(strings.TrimSpace(r["info"]))
			if r["event_type"] == "Xid" || r["event_type"] == "Query" && (strings.HasPrefix(info, "COMMIT") || strings.HasPrefix(info, "ROLLBACK")) {
				return position(t.startFile, uint32(endPos))
			}
			from = endPos
		}
	}
}
