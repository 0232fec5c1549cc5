package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/syncd-dev/syncd/capture"
)

// session is one START_REPLICATION stream. It runs on one goroutine.
type session struct {
	src    *Source
	conn   *pgconn.PgConn
	cat    *pgx.Conn
	sink   capture.Sink
	tables map[capture.TableID]*tableInfo
	types  *typeCache
	rels   map[uint32]*relation

	txn        *capture.Txn     // open transaction, nil between transactions
	lastAck    capture.Position // Ack of the last transaction committed
	confirmed  capture.Position
	serverEnd  capture.Position // WAL end of the last keepalive
	unflushed  bool             // the sink got data since its last Flush
	changed    bool             // the open transaction passed on changes
	streamed   time.Time        // when the last transaction that passed on changes committed
	lastStatus time.Time        // when the last status update went out
	nextStatus time.Time        // when the next heartbeat is due
	nextStats  time.Time

	snapshotter capture.Snapshotter // nil if the sink takes no snapshots
	toSnapshot  []capture.SnapshotRequest
	snap        *snapshot // exported, waiting for the stream to reach it
	bf          *backfill // the chunked backfill running, if any
	xid         uint32    // the open transaction's id
	lastPing    time.Time // when we last asked the server for a keepalive
}

// run reads the stream until ctx is done or an error.
func (ss *session) run(ctx context.Context) error {
	ss.nextStatus = time.Now().Add(ss.src.cfg.StatusInterval)
	defer func() {
		if ss.snap != nil {
			ss.snap.close(ctx)
		}
		ss.stopBackfill(ctx)
	}()
	if err := ss.prepareSnapshot(ctx); err != nil {
		return err
	}
	// Reads get a context that is never cancelled: with one that can
	// be, pgconn starts and stops watching it around every message, a
	// sixth of capture's allocations. Cancelling ctx ends a read that
	// waits by moving its deadline instead; the loop checks ctx after
	// setting each deadline, so a cancellation is never missed.
	recv := context.WithoutCancel(ctx)
	cancelled := make(chan struct{})
	unwatch := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		ss.conn.Conn().SetReadDeadline(time.Now())
	})
	defer func() {
		if !unwatch() {
			<-cancelled
		}
	}()
	var set time.Time // the read deadline last set
	for {
		deadline := ss.nextStatus
		if ss.unflushed {
			deadline = time.Now().Add(ss.src.cfg.IdleFlush)
		}
		// While data flows the idle deadline moves with every message;
		// moving it costs a timer update, so it moves only once it has
		// come within 3/4 IdleFlush: a flush follows 1.5 to 2ms of quiet
		// (the default), not exactly 2ms.
		if stale := deadline.Sub(set); stale != 0 && (!ss.unflushed || stale < 0 || stale > ss.src.cfg.IdleFlush/4) {
			if err := ss.conn.Conn().SetReadDeadline(deadline); err != nil {
				return fmt.Errorf("set read deadline: %w", err)
			}
			set = deadline
		}
		if ctx.Err() != nil {
			return ss.stop(ctx)
		}
		msg, err := ss.conn.ReceiveMessage(recv)
		switch {
		case ctx.Err() != nil:
			return ss.stop(ctx)
		case isTimeout(err):
			if err := ss.idle(ctx); err != nil {
				return err
			}
			continue
		case err != nil:
			return fmt.Errorf("receive from slot %s: %w", ss.src.cfg.Slot, err)
		}
		if err := ss.handle(ctx, msg); err != nil {
			if ctx.Err() != nil {
				return ss.stop(ctx)
			}
			return err
		}
	}
}

// idle runs when no data arrived for a while: flush the sink, take a
// snapshot that is due, confirm.
func (ss *session) idle(ctx context.Context) error {
	if ss.unflushed {
		if err := ss.sink.Flush(ctx); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		ss.unflushed = false
	}
	if err := ss.takeAddedSnapshots(ctx); err != nil {
		return err
	}
	if err := ss.takeDueSnapshot(ctx, 0); err != nil {
		return err
	}
	if err := ss.backfillFailed(); err != nil {
		return err
	}
	if ss.bf != nil {
		if err := ss.recordBackfill(ctx); err != nil {
			return err
		}
	}
	if ss.snap != nil && ss.txn == nil && time.Since(ss.lastPing) > 100*time.Millisecond {
		// A keepalive tells how far the server has sent; an idle server
		// sends one only every wal_sender_timeout/2.
		ss.lastPing = time.Now()
		err := pglogrepl.SendStandbyStatusUpdate(ctx, ss.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: pglogrepl.LSN(ss.confirmed), ReplyRequested: true})
		if err != nil {
			return fmt.Errorf("ask slot %s for a keepalive: %w", ss.src.cfg.Slot, err)
		}
	}
	return ss.maybeConfirm(ctx, true)
}

// takeAddedSnapshots queues the snapshots the sink added while the
// session runs (capture.SnapshotAdder), between transactions.
func (ss *session) takeAddedSnapshots(ctx context.Context) error {
	if ss.txn != nil {
		return nil
	}
	added := capture.AddedSnapshots(ss.snapshotter)
	if len(added) == 0 {
		return nil
	}
	ss.toSnapshot = append(ss.toSnapshot, added...)
	ss.src.setStatus(func(st *Status) { st.SnapshotsPending = len(ss.toSnapshot) })
	return ss.prepareSnapshot(ctx)
}

// takeDueSnapshot copies the waiting snapshot if the stream has reached
// it (nextCommit is the commit position of the transaction about to
// begin, or 0), then prepares the next one.
func (ss *session) takeDueSnapshot(ctx context.Context, nextCommit capture.Position) error {
	if !ss.snapshotDue(nextCommit) {
		return nil
	}
	if err := ss.copySnapshot(ctx); err != nil {
		return err
	}
	return ss.prepareSnapshot(ctx)
}

// maybeConfirm sends a status update when the heartbeat is due, or, at a
// transaction boundary, when the durable position moved and the last
// update is at least confirmEvery old: WAL is released promptly without a
// message per transaction.
func (ss *session) maybeConfirm(ctx context.Context, boundary bool) error {
	now := time.Now()
	if now.After(ss.nextStatus) {
		return ss.sendStatus(ctx)
	}
	if (boundary || ss.txn == nil) && now.Sub(ss.lastStatus) >= confirmEvery && ss.confirmable() > ss.confirmed {
		return ss.sendStatus(ctx)
	}
	return nil
}

// confirmEvery is the shortest interval between status updates that only
// report progress.
const confirmEvery = time.Second

func (ss *session) handle(ctx context.Context, msg pgproto3.BackendMessage) error {
	cd, ok := msg.(*pgproto3.CopyData)
	if !ok {
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication from slot %s: %w", ss.src.cfg.Slot, pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyDone, *pgproto3.CommandComplete:
			// The walsender ends the stream when the server shuts down.
			return fmt.Errorf("replication from slot %s: the server ended the stream (shutting down?)", ss.src.cfg.Slot)
		}
		return fmt.Errorf("replication from slot %s: unexpected message %T", ss.src.cfg.Slot, msg)
	}
	if len(cd.Data) == 0 {
		return nil
	}
	switch cd.Data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
		if err != nil {
			return fmt.Errorf("parse keepalive: %w", err)
		}
		ss.serverEnd = max(ss.serverEnd, capture.Position(ka.ServerWALEnd))
		if err := ss.takeDueSnapshot(ctx, 0); err != nil {
			return err
		}
		if ka.ReplyRequested || ss.confirmable() > ss.confirmed {
			return ss.sendStatus(ctx)
		}
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
		if err != nil {
			return fmt.Errorf("parse xlog data: %w", err)
		}
		m, err := parseMessage(xld.WALData)
		if err != nil {
			return fmt.Errorf("parse pgoutput message: %w", err)
		}
		if err := ss.apply(ctx, m); err != nil {
			return err
		}
		return ss.maybeConfirm(ctx, false)
	}
	return nil
}

// apply turns one pgoutput message into sink calls.
func (ss *session) apply(ctx context.Context, m pglogrepl.Message) error {
	switch m := m.(type) {
	case *pglogrepl.BeginMessage:
		if err := ss.takeDueSnapshot(ctx, capture.Position(m.FinalLSN)); err != nil {
			return err
		}
		ss.xid = m.Xid
		ss.txn = &capture.Txn{
			ID:         fmt.Sprint(m.Xid),
			Pos:        capture.Position(m.FinalLSN),
			CommitTime: m.CommitTime.UTC(),
		}
		return ss.sink.Begin(ctx, ss.txn)
	case *pglogrepl.LogicalDecodingMessage:
		if ss.txn != nil && m.Transactional {
			if m.Prefix == switchPrefix {
				return ss.switched(ctx, m)
			}
			ss.watermark(m)
		}
	case *pglogrepl.OriginMessage:
		if ss.txn != nil {
			ss.txn.Origin = m.Name
		}
	case *pglogrepl.RelationMessage:
		r, err := ss.newRelation(ctx, m)
		if err != nil {
			return err
		}
		ss.rels[m.RelationID] = r
	case *pglogrepl.InsertMessage:
		r, err := ss.relation(m.RelationID)
		if err != nil {
			return err
		}
		if err := r.decode(m.Tuple, r.after, false); err != nil {
			return err
		}
		return ss.change(ctx, &capture.Event{Txn: ss.txn, Table: r.table, Op: capture.OpInsert, After: r.after})
	case *pglogrepl.UpdateMessage:
		r, err := ss.relation(m.RelationID)
		if err != nil {
			return err
		}
		ev := &capture.Event{Txn: ss.txn, Table: r.table, Op: capture.OpUpdate, After: r.after}
		if m.OldTuple != nil {
			if err := r.decode(m.OldTuple, r.before, m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey); err != nil {
				return err
			}
			ev.Before = r.before
		}
		if err := r.decode(m.NewTuple, r.after, false); err != nil {
			return err
		}
		if ev.Before != nil && r.full {
			fillUnchanged(r.after, r.before)
		}
		return ss.change(ctx, ev)
	case *pglogrepl.DeleteMessage:
		r, err := ss.relation(m.RelationID)
		if err != nil {
			return err
		}
		if err := r.decode(m.OldTuple, r.before, m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey); err != nil {
			return err
		}
		return ss.change(ctx, &capture.Event{Txn: ss.txn, Table: r.table, Op: capture.OpDelete, Before: r.before})
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			r, err := ss.relation(id)
			if err != nil {
				return err
			}
			if err := ss.change(ctx, &capture.Event{Txn: ss.txn, Table: r.table, Op: capture.OpTruncate}); err != nil {
				return err
			}
		}
	case *pglogrepl.CommitMessage:
		if ss.txn == nil {
			return errors.New("commit without begin")
		}
		ss.txn.Ack = capture.Position(m.TransactionEndLSN)
		txn := ss.txn
		ss.txn, ss.lastAck = nil, txn.Ack
		ss.unflushed = true
		if ss.changed {
			ss.streamed, ss.changed = time.Now(), false
		}
		if err := ss.sink.Commit(ctx, txn); err != nil {
			return err
		}
		if ss.bf != nil {
			if err := ss.backfillFailed(); err != nil {
				return err
			}
			if err := ss.backfillCommitted(ctx, ss.xid, txn); err != nil {
				return err
			}
		}
		return ss.takeAddedSnapshots(ctx)
	}
	return nil
}

func (ss *session) change(ctx context.Context, ev *capture.Event) error {
	if ev.Txn == nil {
		return fmt.Errorf("change to %s outside a transaction", ev.Table.ID())
	}
	ss.unflushed, ss.changed = true, true
	ss.src.metrics.Changes.Inc()
	if ss.bf != nil {
		if err := ss.bf.Touch(ev); err != nil {
			return err
		}
	}
	return ss.sink.Change(ctx, ev)
}

func (ss *session) relation(id uint32) (*relation, error) {
	r, ok := ss.rels[id]
	if !ok {
		return nil, fmt.Errorf("change to relation %d before its Relation message", id)
	}
	return r, nil
}

// confirmable is the position the server may forget WAL up to: the durable
// prefix the sink reports, or, when nothing is in flight and no
// transaction is open, the WAL end of the last keepalive. Everything
// before that end has been sent and handled, so an idle published table
// does not pin WAL while unpublished tables churn.
func (ss *session) confirmable() capture.Position {
	durable, idle := ss.sink.Durable()
	pos := max(ss.confirmed, durable)
	if idle && ss.txn == nil && !ss.unflushed {
		pos = max(pos, ss.serverEnd)
	}
	if ss.bf != nil { // a restart resumes the backfill from its last chunk recorded
		pos = min(pos, max(ss.confirmed, ss.bf.hold))
	}
	return pos
}

func (ss *session) sendStatus(ctx context.Context) error {
	pos := ss.confirmable()
	err := pglogrepl.SendStandbyStatusUpdate(ctx, ss.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: pglogrepl.LSN(pos)})
	if err != nil {
		return fmt.Errorf("confirm position %s to slot %s: %w", pos, ss.src.cfg.Slot, err)
	}
	now := time.Now()
	ss.confirmed, ss.lastStatus = pos, now
	ss.nextStatus = now.Add(ss.src.cfg.StatusInterval)
	ss.src.metrics.ConfirmedLSN.Set(float64(pos))
	ss.src.setStatus(func(st *Status) { st.Confirmed = pos })
	if now.After(ss.nextStats) {
		ss.nextStats = now.Add(30 * time.Second)
		ss.readSlotStats(ctx)
	}
	return nil
}

// readSlotStats records how much WAL the slot retains. Failure is logged:
// the stream itself is fine.
func (ss *session) readSlotStats(ctx context.Context) {
	var retained int64
	var walStatus string
	err := ss.cat.QueryRow(ctx, `
SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::int8, coalesce(wal_status, '')
  FROM pg_replication_slots WHERE slot_name = $1`, ss.src.cfg.Slot).Scan(&retained, &walStatus)
	if err != nil {
		ss.src.log.Warn("could not read slot statistics", "error", err)
		return
	}
	ss.src.metrics.RetainedWAL.Set(float64(retained))
	ss.src.setStatus(func(st *Status) { st.RetainedWALBytes, st.WALStatus = retained, walStatus })
	if walStatus == "unreserved" || walStatus == "lost" {
		ss.src.log.Error("the slot's WAL is at risk of removal or lost", "wal_status", walStatus, "retained_bytes", retained)
	}
}

// stop is the orderly end of a session: drain the sink, confirm the final
// durable position, and return the context's error.
func (ss *session) stop(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ss.src.cfg.DrainTimeout)
	defer cancel()
	if err := ss.sink.Drain(dctx); err != nil {
		ss.src.log.Warn("stopping without draining every publish", "error", err)
	}
	if err := ss.conn.Conn().SetReadDeadline(time.Time{}); err == nil {
		if err := ss.sendStatus(dctx); err != nil {
			ss.src.log.Warn("could not confirm the final position", "error", err)
		} else {
			ss.src.log.Info("stopped", "confirmed", ss.confirmed)
		}
	}
	return ctx.Err()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
