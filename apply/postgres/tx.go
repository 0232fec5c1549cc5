package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/checkpoint"
)

// Queue limits: queued statements are sent, in one round trip, when they
// reach any, and at Commit. With the group limits they bound the memory a
// transaction holds, however large it is: the queue, and the round trip
// before it while its results are not read.
const (
	maxQueuedBytes      = 8 << 20
	maxQueuedStatements = 256
	maxQueuedRows       = maxGroupRows
)

// tx is a target transaction. The server transaction begins with the
// first round trip, whose first statement is BEGIN.
//
// Without isolate, changes are grouped (see group) and queued. A full
// queue is sent without waiting for its results, so that the server
// writes it while the next changes are converted; they are read before
// the next round trip. The rest is sent at Commit. An error from Apply
// may come from an earlier change. Any error ends the transaction,
// rolled back.
//
// With isolate, Apply sends each change at once inside a savepoint. A
// change the target rejects is rolled back to the savepoint and returned
// as a *apply.RejectedError with the change; the transaction goes on.
// Other errors end it, rolled back.
type tx struct {
	t       *Target
	conn    *pgx.Conn
	isolate bool
	begun   bool // the server transaction is open
	done    bool // committed, rolled back or failed

	cv         converter
	plan       plan.Planner[*table]
	r          texts // the row being planned
	g          group
	queue      []queued
	queueBytes int
	queueRows  int
	ahead      *roundTrip      // sent, results not read yet
	spare      []queued        // the queue of the last round trip, for reuse
	filling    map[*table]bool // tables whose filling this transaction changed (isFilling)
	copyData   []byte          // the rows of a COPY, in its text format
	stamp      time.Time       // the latest Committed of the changes applied
	skipped    int64           // re-landed rows not found (plan.Reland; apply.SkipCounter)
}

// roundTrip is statements sent in one round trip, BEGIN first if first
// is 1, then the queries of probe if any, whose results are read by
// finish.
type roundTrip struct {
	res   pgx.BatchResults
	qs    []queued
	probe *sentProbe
	first int
	n     int // statements sent before probe's queries
}

// queued is a statement waiting to be sent.
type queued struct {
	sql    string
	args   []any
	table  *table // nil for statements that write no rows of a table
	op     plan.Op
	rows   int
	size   int
	change *apply.Change // the one change the statement writes, if one
}

var (
	_ apply.Tx          = (*tx)(nil)
	_ apply.SkipCounter = (*tx)(nil)
)

func newTx(t *Target, conn *pgx.Conn, isolate bool) *tx {
	x := &tx{t: t, conn: conn, isolate: isolate, g: newGroup()}
	x.plan = plan.New[*table](t.cfg.Name, x)
	return x
}

// Apply implements apply.Tx.
func (x *tx) Apply(ctx context.Context, c *apply.Change) error {
	if x.done {
		return apply.ErrTxDone
	}
	if c.Committed.After(x.stamp) {
		x.stamp = c.Committed
	}
	if x.isolate {
		return x.applyIsolated(ctx, c)
	}
	if err := x.plan.Add(c); err != nil {
		return x.fail(ctx, apply.Reject(err, c, refused))
	}
	if x.queueBytes >= maxQueuedBytes || len(x.queue) >= maxQueuedStatements || x.queueRows >= maxQueuedRows {
		if err := x.sendAhead(ctx); err != nil {
			return x.fail(ctx, err)
		}
	}
	return nil
}

// savepoint is the name of the savepoint each isolated change runs in.
const savepoint = "syncd_change"

func (x *tx) applyIsolated(ctx context.Context, c *apply.Change) error {
	if err := x.plan.Add(c); err != nil {
		x.discard()
		if err := apply.Reject(err, c, refused); apply.IsRejected(err) { // nothing was sent
			return err
		}
		return x.fail(ctx, err)
	}
	x.takeGroup()
	x.queue = append(x.queue, queued{sql: "RELEASE SAVEPOINT " + savepoint})
	x.queue = append([]queued{{sql: "SAVEPOINT " + savepoint}}, x.queue...)
	_, err := x.send(ctx)
	if err == nil {
		return nil
	}
	var rej *apply.RejectedError
	if !errors.As(err, &rej) || x.conn.IsClosed() {
		return x.fail(ctx, err)
	}
	_, rerr := x.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT "+savepoint+"; RELEASE SAVEPOINT "+savepoint)
	if rerr != nil {
		return x.fail(ctx, fmt.Errorf("roll back to savepoint after %w: %w", err, rerr))
	}
	rej.Change = c
	return rej
}

// RelandSkipped implements apply.SkipCounter.
func (x *tx) RelandSkipped() int64 { return x.skipped }

// Commit implements apply.Tx.
func (x *tx) Commit(ctx context.Context, rec checkpoint.Record) error {
	if x.done {
		return apply.ErrTxDone
	}
	x.takeGroup()
	if q, ok := x.t.originStamp(x.stamp); ok {
		x.push(q)
	}
	x.push(x.t.writeCheckpoint(rec))
	x.push(queued{sql: "COMMIT"})
	tag, err := x.send(ctx)
	if err == nil && tag.String() != "COMMIT" {
		err = fmt.Errorf("commit: the server answered %s", tag)
	}
	if err != nil {
		return x.fail(ctx, err)
	}
	x.end()
	for tb, v := range x.filling {
		if v {
			x.t.filling[tb] = true
		} else {
			delete(x.t.filling, tb)
		}
	}
	return nil
}

// Rollback implements apply.Tx. It is a no-op once the transaction ended.
func (x *tx) Rollback(ctx context.Context) error {
	if x.done {
		return nil
	}
	x.end()
	return x.rollback(ctx)
}

// takeGroup queues the group, if it holds rows.
func (x *tx) takeGroup() {
	if x.g.rows > 0 {
		x.push(x.g.take())
	}
}

// push queues q after what is queued.
func (x *tx) push(q queued) {
	x.queue = append(x.queue, q)
	x.queueBytes += q.size + len(q.sql)
	x.queueRows += q.rows
}

// pushAlone queues the group, then q.
func (x *tx) pushAlone(q queued) {
	x.takeGroup()
	x.push(q)
}

// discard drops what is grouped and queued.
func (x *tx) discard() {
	x.g.rows, x.g.first = 0, nil
	x.clearQueue()
}

// clearQueue empties the queue, keeping its space.
func (x *tx) clearQueue() {
	clear(x.queue)
	x.queue, x.queueBytes, x.queueRows = x.queue[:0], 0, 0
}

// send sends the queued statements, after BEGIN if the server
// transaction has not begun, and empties the queue. It returns the
// command tag of the last statement. An error names the statement that
// failed and is classified (see apply.Reject).
//
// The statements go in one round trip, except that each update that must
// find all its rows (plan.Update) ends a round trip, so that its row count
// is checked before anything after it, COMMIT included, runs, and that a
// COPY (opCopy) runs alone, after the statements before it.
func (x *tx) send(ctx context.Context) (pgconn.CommandTag, error) {
	defer x.clearQueue()
	defer func() {
		for i := range x.queue {
			x.g.recycle(&x.queue[i])
		}
	}()
	var tag pgconn.CommandTag
	if err := x.finishAhead(); err != nil {
		return tag, err
	}
	for start := 0; start < len(x.queue); {
		if x.queue[start].op == opCopy {
			if err := x.copyRows(ctx, &x.queue[start]); err != nil {
				return tag, err
			}
			start++
			continue
		}
		end := start
		for end < len(x.queue) && x.queue[end].op != plan.Update && x.queue[end].op != opCopy {
			end++
		}
		if end < len(x.queue) && x.queue[end].op == plan.Update {
			end++
		}
		var err error
		if tag, err = x.finish(x.start(ctx, x.queue[start:end], nil)); err != nil {
			return tag, err
		}
		start = end
	}
	return tag, nil
}

// sendAhead sends the queued statements as send does, but does not wait
// for the results of the last round trip: finishAhead reads them, before
// anything else is sent.
func (x *tx) sendAhead(ctx context.Context) error {
	if err := x.finishAhead(); err != nil {
		return err
	}
	if len(x.queue) == 0 {
		return nil
	}
	last := len(x.queue) - 1
	for i := range x.queue {
		// An update's row count first; a COPY cannot go in a batch.
		if (x.queue[i].op == plan.Update && i < last) || x.queue[i].op == opCopy {
			_, err := x.send(ctx)
			return err
		}
	}
	qs := x.queue
	x.queue, x.spare = x.spare, nil
	x.clearQueue()
	x.ahead = x.start(ctx, qs, nil)
	return nil
}

// finishAhead reads the results of the round trip sent ahead, if any.
func (x *tx) finishAhead() error {
	rt := x.ahead
	if rt == nil {
		return nil
	}
	x.ahead = nil
	_, err := x.finish(rt)
	for i := range rt.qs {
		x.g.recycle(&rt.qs[i])
	}
	clear(rt.qs)
	x.spare = rt.qs[:0]
	return err
}

// start sends qs in one round trip, after BEGIN if the server
// transaction has not begun, and then the queries of probe, if any.
func (x *tx) start(ctx context.Context, qs []queued, probe *sentProbe) *roundTrip {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(qs)+1)}
	first := 0
	if !x.begun {
		b.Queue("BEGIN")
		first = 1
	}
	for _, q := range qs {
		b.Queue(q.sql, q.args...)
	}
	n := b.Len()
	if probe != nil {
		for _, q := range probe.qs {
			b.Queue(q.sql, q.args...)
		}
		for _, q := range probe.ins {
			b.Queue(q.sql, q.args...)
		}
	}
	return &roundTrip{res: x.conn.SendBatch(ctx, b), qs: qs, probe: probe, first: first, n: n}
}

// finish reads the results of rt and returns the last statement's tag
// (before the probe's queries). The row count of an update that must
// find all its rows (plan.Update) is checked here; send makes it the
// last statement of its round trip, so that nothing after it, COMMIT
// included, runs before the check.
func (x *tx) finish(rt *roundTrip) (pgconn.CommandTag, error) {
	res, qs, first := rt.res, rt.qs, rt.first
	var tag pgconn.CommandTag
	var err, missing error
	i := 0
	for ; i < rt.n; i++ {
		if tag, err = res.Exec(); err != nil {
			break
		}
		if i < first {
			continue
		}
		switch q := &qs[i-first]; q.op {
		case plan.Reland:
			x.skipped += int64(q.rows) - tag.RowsAffected()
		case plan.Update:
			if tag.RowsAffected() != int64(q.rows) && missing == nil {
				missing = plan.RowsMissing(q.change, q.describe(), int64(q.rows)-tag.RowsAffected())
			}
		}
	}
	var perr error // the probe's, which names itself
	if err == nil && rt.probe != nil {
		perr = x.readProbe(res, rt.probe)
	}
	if cerr := res.Close(); err == nil && perr == nil {
		err = cerr
	}
	x.begun = x.conn.PgConn().TxStatus() != 'I'
	if err == nil {
		if missing == nil {
			missing = perr
		}
		return tag, missing
	}
	var pre pgx.ErrPreprocessingBatch
	if errors.As(err, &pre) { // nothing ran; find the statement by its text
		if rt.probe != nil && slices.ContainsFunc(rt.probe.qs, func(q probeQuery) bool { return q.sql == pre.SQL() }) {
			return tag, fmt.Errorf("read the rows of changes: %w", err)
		}
		for j, q := range qs {
			if q.sql == pre.SQL() {
				i = j + first
				break
			}
		}
	}
	if i < first || i-first >= len(qs) {
		return tag, fmt.Errorf("send statements: %w", err)
	}
	q := &qs[i-first]
	if q.table == nil {
		return tag, fmt.Errorf("%s: %w", firstWord(q.sql), err)
	}
	return tag, apply.Reject(fmt.Errorf("%s: %w", q.describe(), err), q.change, refused)
}

// copyRows runs q, a COPY of the rows of a group, after BEGIN if the
// server transaction has not begun. Its rows go in COPY's text format.
func (x *tx) copyRows(ctx context.Context, q *queued) error {
	if !x.begun {
		if _, err := x.conn.Exec(ctx, "BEGIN"); err != nil {
			return fmt.Errorf("BEGIN: %w", err)
		}
		x.begun = true
	}
	x.copyData = appendCopyRows(x.copyData[:0], q.args)
	_, err := x.conn.PgConn().CopyFrom(ctx, bytes.NewReader(x.copyData), q.sql)
	if cap(x.copyData) > maxSpareBytes*8 {
		x.copyData = nil // one large transaction does not pin its memory
	}
	x.begun = x.conn.PgConn().TxStatus() != 'I'
	if err != nil {
		return apply.Reject(fmt.Errorf("%s: %w", q.describe(), err), q.change, refused)
	}
	return nil
}

// describe names the statement for errors: kind, table, rows.
func (q *queued) describe() string {
	o := q.op
	if o == opCopy {
		o = plan.Insert
	}
	return plan.Describe(o, q.rows, q.table.ID.String())
}

func firstWord(s string) string {
	for i, c := range s {
		if c == ' ' {
			return s[:i]
		}
	}
	return s
}

// fail ends the transaction, rolls it back and returns err.
func (x *tx) fail(ctx context.Context, err error) error {
	x.end()
	x.discard()
	if rerr := x.rollback(ctx); rerr != nil {
		x.t.log.Warn("rollback failed; the connection was closed", "error", rerr)
	}
	return err
}

// end marks the transaction ended and frees the Target for the next.
func (x *tx) end() {
	x.done = true
	if x.t.open == x {
		x.t.open = nil
	}
}

// rollback rolls the server transaction back, if one is open. If that
// fails, the connection, in an unknown state, is closed.
func (x *tx) rollback(ctx context.Context) error {
	_ = x.finishAhead() // its error does not matter: all is rolled back
	if x.conn.IsClosed() || x.conn.PgConn().TxStatus() == 'I' {
		x.begun = false
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := x.conn.Exec(ctx, "ROLLBACK"); err != nil {
		x.t.closeConn()
		return fmt.Errorf("roll back: %w", err)
	}
	x.begun = false
	return nil
}
