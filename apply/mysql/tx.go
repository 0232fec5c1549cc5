package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/checkpoint"
)

// tx is a target transaction, open on the server from Begin.
//
// Without isolate, changes are grouped (see group); a group becomes one
// statement when a change does not fit it or it is full, and at Commit.
// A goroutine sends it while the worker converts the next changes; it is
// done before anything else is sent. An error from Apply may come from
// an earlier change. Any error ends the transaction, rolled back.
//
// With isolate, Apply sends each change at once inside a savepoint. A
// change the target rejects is rolled back to the savepoint and returned
// as a *apply.RejectedError with the change; the transaction goes on.
// Other errors end it, rolled back.
type tx struct {
	t       *Target
	stx     *sql.Tx
	isolate bool
	done    bool // committed, rolled back or failed

	plan  plan.Planner[*table]
	r     row // the values of the row being planned
	g     group
	queue []stmt     // statements to send, in order
	ahead *roundTrip // statements being sent, nil if none
	spare []stmt     // the queue of the last round trip, for reuse
}

// roundTrip is statements a goroutine sends; done is closed when it has
// sent them or failed with err.
type roundTrip struct {
	qs   []stmt
	done chan struct{}
	err  error
}

var _ apply.Tx = (*tx)(nil)

func newTx(t *Target, stx *sql.Tx, isolate bool) *tx {
	x := &tx{t: t, stx: stx, isolate: isolate, g: group{limit: t.groupRows}}
	x.plan = plan.New[*table](t.cfg.Name, x)
	return x
}

// Apply implements apply.Tx.
func (x *tx) Apply(ctx context.Context, c *apply.Change) error {
	if x.done {
		return ErrTxDone
	}
	if x.isolate {
		return x.applyIsolated(ctx, c)
	}
	if err := x.plan.Add(c); err != nil {
		return x.fail(ctx, apply.Reject(err, c, refused))
	}
	if err := x.sendAhead(ctx); err != nil {
		return x.fail(ctx, err)
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
	x.queue = append([]stmt{{sql: "SAVEPOINT " + savepoint}}, x.queue...)
	x.push(stmt{sql: "RELEASE SAVEPOINT " + savepoint})
	err := x.send(ctx)
	if err == nil {
		return nil
	}
	var rej *apply.RejectedError
	if !errors.As(err, &rej) {
		return x.fail(ctx, err)
	}
	if _, rerr := x.stx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); rerr != nil {
		return x.fail(ctx, fmt.Errorf("roll back to savepoint after %w: %w", err, rerr))
	}
	if _, rerr := x.stx.ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint); rerr != nil {
		return x.fail(ctx, fmt.Errorf("release savepoint after %w: %w", err, rerr))
	}
	rej.Change = c
	return rej
}

// Commit implements apply.Tx.
func (x *tx) Commit(ctx context.Context, rec checkpoint.Record) error {
	if x.done {
		return ErrTxDone
	}
	x.takeGroup()
	x.push(x.t.writeCheckpoint(rec))
	if err := x.send(ctx); err != nil {
		return x.fail(ctx, err)
	}
	x.end()
	if err := x.stx.Commit(); err != nil {
		// The outcome is unknown only if the connection broke; the
		// checkpoint read at the next start tells.
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback implements apply.Tx. It is a no-op once the transaction ended.
func (x *tx) Rollback(ctx context.Context) error {
	if x.done {
		return nil
	}
	x.end()
	x.discard()
	return x.rollback()
}

// takeGroup queues the group, if it holds rows.
func (x *tx) takeGroup() {
	if x.g.rows > 0 {
		x.push(x.g.take())
	}
}

// push queues q after what is queued.
func (x *tx) push(q stmt) { x.queue = append(x.queue, q) }

// pushAlone queues the group, then q.
func (x *tx) pushAlone(q stmt) {
	x.takeGroup()
	x.push(q)
}

// discard drops what is grouped and queued.
func (x *tx) discard() {
	x.g.rows, x.g.size, x.g.first, x.g.args = 0, 0, nil, nil
	x.clearQueue()
}

// clearQueue empties the queue, keeping its space.
func (x *tx) clearQueue() {
	clear(x.queue)
	x.queue = x.queue[:0]
}

// send sends the queued statements in order, one round trip each, after
// those sent ahead, and empties the queue. An error names the statement
// that failed and is classified (see apply.Reject).
func (x *tx) send(ctx context.Context) error {
	defer x.clearQueue()
	if err := x.finishAhead(); err != nil {
		return err
	}
	return x.exec(ctx, x.queue)
}

// sendAhead hands the queued statements, if any, to a goroutine that
// sends them as send does, after waiting for those handed over before.
func (x *tx) sendAhead(ctx context.Context) error {
	if len(x.queue) == 0 {
		return nil
	}
	if err := x.finishAhead(); err != nil {
		return err
	}
	rt := &roundTrip{qs: x.queue, done: make(chan struct{})}
	x.queue, x.spare = x.spare, nil
	x.ahead = rt
	go func() {
		defer close(rt.done)
		rt.err = x.exec(ctx, rt.qs)
	}()
	return nil
}

// finishAhead waits for the statements sent ahead, if any, and returns
// their error.
func (x *tx) finishAhead() error {
	rt := x.ahead
	if rt == nil {
		return nil
	}
	x.ahead = nil
	<-rt.done
	clear(rt.qs)
	x.spare = rt.qs[:0]
	return rt.err
}

// exec sends qs in order, one round trip each.
func (x *tx) exec(ctx context.Context, qs []stmt) error {
	for i := range qs {
		q := &qs[i]
		res, err := x.stx.ExecContext(ctx, q.sql, q.args...)
		if err != nil {
			if q.table == nil {
				return fmt.Errorf("%s: %w", firstWords(q.sql), err)
			}
			return apply.Reject(fmt.Errorf("%s: %w", q.describe(), hint(q, err)), q.change, refused)
		}
		if q.mustMatch {
			if n, err := res.RowsAffected(); err == nil && n != int64(q.rows) {
				return plan.RowsMissing(q.change, q.describe(), int64(q.rows)-n)
			}
		}
	}
	return nil
}

// hint explains the error an upsert's guard raises (see insertShape).
func hint(q *stmt, err error) error {
	var me *mysql.MySQLError
	if q.op == plan.Upsert && q.table.guard && errors.As(err, &me) && me.Number == 1048 {
		return fmt.Errorf("a row has the values of another row in a unique index other than the key, or a null key: %w", err)
	}
	return err
}

// describe names the statement for errors: kind, table, rows.
func (q *stmt) describe() string { return plan.Describe(q.op, q.rows, q.table.name.String()) }

// firstWords returns the statement's first two words, to name it.
func firstWords(s string) string {
	n := 0
	for i, c := range s {
		if c == ' ' {
			if n++; n == 2 {
				return s[:i]
			}
		}
	}
	return s
}

// fail ends the transaction, rolls it back and returns err.
func (x *tx) fail(ctx context.Context, err error) error {
	x.end()
	x.discard()
	if rerr := x.rollback(); rerr != nil {
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

// rollback rolls the server transaction back. If that fails on a
// connection the server still answers, the connection, in an unknown
// state, is closed; a broken one database/sql drops by itself.
func (x *tx) rollback() error {
	_ = x.finishAhead() // its error does not matter: all is rolled back
	err := x.stx.Rollback()
	if err == nil || errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	x.t.closeDB()
	return fmt.Errorf("roll back: %w", err)
}
