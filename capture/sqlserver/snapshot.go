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
// poll. The copy is one snapshot transaction at position cur: a truncate,
// then a read per row, all for the scope. Snapshots are recorded done once
// the sink has drained them.

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
	rows := make([]int64, len(reqs))
	for i, req := range reqs {
		t := ss.src.byID[req.Table]
		if t == nil {
			return i, retry.Terminal(fmt.Errorf("snapshot of %s for scope %s: the table is not published by source %s", req.Table, req.Scope, ss.src.cfg.Name))
		}
		n, err := ss.copyTable(ctx, p, t, req, cur)
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

// copyTable passes one table's snapshot transaction and returns its rows.
func (ss *session) copyTable(ctx context.Context, p Poll, t *Table, req capture.SnapshotRequest, cur int64) (int64, error) {
	var where string
	var args []any
	if req.Where != nil {
		where, args = req.Where(nil)
	}
	txn := &capture.Txn{ID: fmt.Sprintf("snapshot-%d", cur), Pos: capture.Position(cur), Ack: capture.Position(cur), Snapshot: true}
	if err := ss.sink.Begin(ctx, txn); err != nil {
		return 0, err
	}
	if err := ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: t.Table, Op: capture.OpTruncate, Scope: req.Scope}); err != nil {
		return 0, err
	}
	var n int64
	var after capture.Row
	for {
		chunk, err := p.Chunk(ctx, t, after, ss.src.cfg.ChunkRows, where, args)
		if err != nil {
			return n, err
		}
		for _, row := range chunk {
			if err := ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: t.Table, Op: capture.OpRead, After: row, Scope: req.Scope}); err != nil {
				return n, err
			}
		}
		n += int64(len(chunk))
		if len(chunk) < ss.src.cfg.ChunkRows {
			break
		}
		last := chunk[len(chunk)-1]
		after = make(capture.Row, len(t.Key))
		for i, k := range t.Key {
			after[i] = last[k]
		}
	}
	return n, ss.sink.Commit(ctx, txn)
}
