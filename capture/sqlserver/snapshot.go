package sqlserver

import (
	"context"
	"fmt"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// An initial snapshot copies one table for one scope inside a poll's
// snapshot transaction, after the poll's changes, chunked by primary key:
// every read of the poll sees the database at version cur, so every change
// at or before cur is in the copy and every later one comes in a later
// poll. The copy is one snapshot transaction, at a position of its own
// after cur's changes (position.go), all for the
// scope: a truncate if the request asks for one (a first copy, or a copy
// for one target that replaces its rows), the deletes of a scope change's
// rows that leave, then a read per row; its end is marked
// (Txn.CopyEnd). Snapshots are recorded done once the sink has drained
// them.

// snapshots takes the snapshots the sink wants, at version cur.
func (ss *session) snapshots(ctx context.Context, p Poll, cur int64) (int, error) {
	sn, ok := ss.sink.(capture.Snapshotter)
	if !ok {
		return 0, nil
	}
	reqs := sn.Snapshots()
	if len(reqs) == 0 {
		return 0, nil
	}
	if first := max(ss.copied, versionPos(cur)) + 1; first+capture.Position(len(reqs))-1 > maxCopy(cur) {
		// Out of positions at cur: the copies wait for the next version
		// (at most one per scope table is handed out; they stay pending).
		ss.src.log.Warn("too many copies at one change tracking version: waiting for the next version", "version", cur, "copies", len(reqs))
		return 0, nil
	}
	rows := make([]int64, len(reqs))
	for i, req := range reqs {
		t := ss.src.byID[req.Table]
		if t == nil {
			return i, retry.Terminal(fmt.Errorf("snapshot of %s for scope %s: the table is not published by source %s", req.Table, req.Scope, ss.src.cfg.Name))
		}
		ss.copied = max(ss.copied, versionPos(cur)) + 1
		n, err := ss.copyTable(ctx, p, t, req, ss.copied)
		if err != nil {
			return i, fmt.Errorf("snapshot of %s for scope %s: %w", req.Table, req.Scope, err)
		}
		rows[i] = n
	}
	if err := ss.sink.Drain(ctx); err != nil {
		return len(reqs), err
	}
	for i, req := range reqs {
		if err := sn.SnapshotDone(ctx, req, rows[i]); err != nil {
			return len(reqs), err
		}
	}
	return len(reqs), nil
}

// copyTable passes one table's snapshot transaction, at pos (a copy's
// position at the poll's version, position.go), and returns its rows:
// the truncate if req asks for one, a delete of each row req.ExitWhere
// selects, a read of each row req.Where selects, and the end of the copy
// (capture.EndCopy), so that the targets record the copy done.
func (ss *session) copyTable(ctx context.Context, p Poll, t *Table, req capture.SnapshotRequest, pos capture.Position) (int64, error) {
	txn := &capture.Txn{ID: fmt.Sprintf("snapshot-%d-%d", posVersion(pos), pos-versionPos(posVersion(pos))), Pos: pos, Ack: pos, Snapshot: true}
	if err := ss.sink.Begin(ctx, txn); err != nil {
		return 0, err
	}
	sent := 0
	if req.Truncate {
		if err := ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: t.Table, Op: capture.OpTruncate, Scope: req.Scope}); err != nil {
			return 0, err
		}
		sent++
	}
	var n int64
	if req.ExitWhere != nil {
		err := ss.readRows(ctx, p, t, req.ExitWhere, func(row capture.Row) error {
			sent++
			return ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: t.Table, Op: capture.OpDelete, Before: row, Scope: req.Scope})
		})
		if err != nil {
			return 0, err
		}
	}
	err := ss.readRows(ctx, p, t, req.Where, func(row capture.Row) error {
		n++
		sent++
		return ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: t.Table, Op: capture.OpRead, After: row, Scope: req.Scope})
	})
	if err != nil {
		return n, err
	}
	if err := capture.EndCopy(ctx, ss.sink, txn, t.Table, req.Scope, sent); err != nil {
		return n, err
	}
	return n, ss.sink.Commit(ctx, txn)
}

// readRows calls fn for each row of t that where (nil: every row)
// selects, in key order, reading ChunkRows rows at a time.
func (ss *session) readRows(ctx context.Context, p Poll, t *Table, where func([]any) (string, []any), fn func(capture.Row) error) error {
	var cond string
	var args []any
	if where != nil {
		cond, args = where(nil)
	}
	var after capture.Row
	for {
		chunk, err := p.Chunk(ctx, t, after, ss.src.cfg.ChunkRows, cond, args)
		if err != nil {
			return err
		}
		for _, row := range chunk {
			if err := fn(row); err != nil {
				return err
			}
		}
		if len(chunk) < ss.src.cfg.ChunkRows {
			return nil
		}
		last := chunk[len(chunk)-1]
		after = make(capture.Row, len(t.Key))
		for i, k := range t.Key {
			after[i] = last[k]
		}
	}
}
