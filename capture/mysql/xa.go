package mysql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// XA transactions. A prepared XA transaction is logged when it is
// prepared, as an event group of its own (GTID, XA START, rows, XA END,
// XA_prepare), and its outcome later, by another group holding only "XA
// COMMIT xid" or "XA ROLLBACK xid"; other transactions may commit in
// between. Its rows are committed at the XA COMMIT, so that is where
// they go to the sink: the session keeps the rows of each prepared XA
// transaction until its outcome, and while any is prepared it resumes,
// after a restart, from the start of the earliest, skipping what it has
// published since (state.Published). A one-phase XA COMMIT is an
// ordinary transaction (MariaDB logs it so; MySQL ends it with an
// XA_prepare event marked one-phase).

const (
	// mariadbPreparedXA is FL_PREPARED_XA, the flag of a MariaDB GTID
	// event that begins the group of an XA PREPARE.
	mariadbPreparedXA = 0x40
	// xaHoldBytes bounds the row events of prepared XA transactions held
	// in memory until their outcome, all of them together.
	xaHoldBytes = 32 << 20
)

// preparedXA is an XA transaction prepared and not yet committed or
// rolled back.
type preparedXA struct {
	xid   string // as the binlog writes it: X'…',X'…',formatID
	id    string // the GTID of its prepare, "" for none
	start state  // the resume state just before its prepare group
	rows  []heldRows
	bytes int
}

// xaQuery handles an "XA …" statement of the binlog.
func (ss *session) xaQuery(ctx context.Context, h *replication.EventHeader, q string) error {
	verb, xid, _ := strings.Cut(strings.TrimSpace(q[len("XA"):]), " ")
	xid = strings.TrimSpace(xid)
	switch strings.ToUpper(verb) {
	case "END":
		if ss.txn == nil || !ss.txn.xa {
			return fmt.Errorf("%q at %s:%d outside an XA transaction", q, ss.file, h.LogPos)
		}
		ss.txn.xid = xid
		return nil
	case "START", "BEGIN", "COMMIT", "ROLLBACK":
	default: // XA RECOVER and the like are not logged
		return nil
	}
	if ss.txn == nil {
		if _, err := ss.begin(ctx, h, ""); err != nil {
			return err
		}
	}
	t := ss.txn
	if strings.EqualFold(verb, "START") || strings.EqualFold(verb, "BEGIN") {
		t.inBegin, t.xa = true, true
		return nil
	}
	if upper := strings.ToUpper(xid); strings.HasSuffix(upper, " ONE PHASE") {
		xid = strings.TrimSpace(xid[:len(xid)-len(" ONE PHASE")])
	}
	if t.xa {
		// The statement ends the XA transaction it is in: a one-phase
		// commit, or a rollback before the prepare.
		if strings.EqualFold(verb, "ROLLBACK") {
			t.buf, t.bufRows, t.bufBytes = nil, 0, 0
		}
		return ss.commit(ctx, h)
	}
	p := ss.prepared[xid]
	if p == nil {
		if strings.EqualFold(verb, "COMMIT") && !t.skip {
			ss.src.log.Warn("XA COMMIT of a transaction not seen prepared (it was prepared before this source's start position, or changed nothing): rows it changed in published tables, if any, are not captured",
				"xid", xid, "pos", fmt.Sprintf("%s:%d", ss.file, h.LogPos))
		}
		return ss.commit(ctx, h)
	}
	ss.resolved(xid, p)
	if strings.EqualFold(verb, "COMMIT") && !t.skip {
		t.buf = p.rows
		for _, r := range p.rows {
			t.bufRows += len(r.e.Rows)
		}
		t.commitTime = time.Unix(int64(h.Timestamp), 0).UTC()
		ss.src.log.Debug("XA transaction committed", "xid", xid, "prepared", p.id, "rows", t.bufRows)
	}
	return ss.commit(ctx, h)
}

// xaPrepare handles an XA_prepare event, the end of an XA transaction's
// prepare group; data is the event's body.
func (ss *session) xaPrepare(ctx context.Context, h *replication.EventHeader, data []byte) error {
	t := ss.txn
	if t == nil || !t.xa || len(data) == 0 {
		return fmt.Errorf("XA PREPARE at %s:%d outside an XA transaction", ss.file, h.LogPos)
	}
	if data[0] == 1 { // one phase: committed here
		return ss.commit(ctx, h)
	}
	if t.xid == "" {
		return fmt.Errorf("XA PREPARE at %s:%d of transaction %s without an XA END", ss.file, h.LogPos, t.id)
	}
	if t.ctxn != nil {
		return fmt.Errorf("XA transaction %s reached the sink before its commit", t.xid)
	}
	if old := ss.prepared[t.xid]; old != nil {
		ss.src.log.Warn("XA transaction prepared again before its outcome; keeping the later", "xid", t.xid, "earlier", old.id, "later", t.id)
		ss.resolved(t.xid, old)
	}
	p := &preparedXA{xid: t.xid, id: t.id, rows: t.buf, bytes: t.bufBytes,
		start: state{Flavor: ss.srv.flavor, File: t.startFile, Pos: t.startOff, GTID: ss.gtids.String()}}
	if ss.prepared == nil {
		ss.prepared = map[string]*preparedXA{}
	}
	ss.prepared[t.xid] = p
	ss.heldBytes += p.bytes
	ss.src.setStatus(func(s *Status) { s.PreparedXA = len(ss.prepared) })
	ss.src.log.Debug("XA transaction prepared", "xid", t.xid, "gtid", t.id, "start", p.start.String(), "held_bytes", p.bytes)
	// The prepare group ends here; its rows wait for the outcome.
	t.buf, t.bufRows, t.bufBytes = nil, 0, 0
	return ss.commit(ctx, h)
}

// resolved forgets the prepared transaction p of xid.
func (ss *session) resolved(xid string, p *preparedXA) {
	delete(ss.prepared, xid)
	ss.heldBytes -= p.bytes
	ss.src.setStatus(func(s *Status) { s.PreparedXA = len(ss.prepared) })
}

// holdXA keeps a rows event of the XA transaction t until its outcome.
func (ss *session) holdXA(t *openTxn, tm *tableMap, e *replication.RowsEvent, size int) error {
	t.buf = append(t.buf, heldRows{tm, e})
	t.bufRows += len(e.Rows)
	t.bufBytes += size
	if ss.heldBytes+t.bufBytes > xaHoldBytes {
		return retry.Terminal(fmt.Errorf("XA transaction %s at %s:%d: prepared XA transactions hold more than %d MiB of row events of published tables; syncd keeps a prepared XA transaction's rows in memory until its XA COMMIT or XA ROLLBACK, and cannot capture this one", t.id, t.startFile, t.startOff, xaHoldBytes>>20))
	}
	return nil
}

// resumeAt returns the state to resume from once the transaction that
// ends at st is durable: st, or, while XA transactions are prepared, the
// start of the earliest of them, with what was published after it
// marked to be skipped.
func (ss *session) resumeAt(st state) state {
	if len(ss.prepared) == 0 && ss.skipTo == 0 {
		return st
	}
	published := max(ss.skipTo, st.position())
	for _, p := range ss.prepared {
		if p.start.position() < st.position() {
			st = p.start
		}
	}
	if st.position() < published {
		st.Published = published
	}
	return st
}

// warnPreparedXA warns of XA transactions prepared on the server when a
// source first starts, at st: their prepares are before st, so their
// rows will not be captured when they commit.
func (ss *session) warnPreparedXA(ctx context.Context, st state) {
	rows, err := queryMaps(ctx, ss.db, "XA RECOVER")
	if err != nil {
		ss.src.log.Debug("could not list prepared XA transactions", "error", err)
		return
	}
	if len(rows) > 0 {
		ss.src.log.Warn("XA transactions are prepared on the source as it first starts: rows they changed in published tables, if any, will not be captured when they commit",
			"prepared", len(rows), "start", st.String())
	}
}
