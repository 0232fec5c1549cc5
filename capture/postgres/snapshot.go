package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// An initial snapshot copies one table for one scope, exactly and without
// locks. A temporary slot created with EXPORT_SNAPSHOT gives a snapshot
// that holds every transaction committed before the slot's consistent
// point, and none after. A REPEATABLE READ transaction imports it at
// once. The session goes on streaming; the sink drops live changes to the
// table for that scope meanwhile. When the stream reaches the consistent
// point (before the first transaction committing at or after it), the
// session reads the table in that transaction and passes the rows to the
// sink as one snapshot transaction: a truncate and a read per row, or,
// for a changed scope, a delete per row leaving and a read per row
// entering it (see capture.Snapshotter). So
// every change is either in the copy or after it, never both, never
// neither. One table at a time, so each is recorded done on its own and a
// crash repeats only the table it interrupted.

// snapshot is a table copy waiting for the stream to reach its point.
type snapshot struct {
	req   capture.SnapshotRequest
	at    capture.Position // the exported snapshot's consistent point
	conn  *pgx.Conn        // holds tx
	tx    pgx.Tx           // REPEATABLE READ, with the snapshot imported
	parts []snapshotPart   // more connections holding it, to read in parallel
	took  time.Time
}

func (sn *snapshot) close(ctx context.Context) {
	sn.conn.Close(context.WithoutCancel(ctx))
	closeParts(ctx, sn.parts)
}

// prepareSnapshot starts the next pending snapshot, if any: it exports a
// snapshot through a temporary slot and imports it into a transaction.
func (ss *session) prepareSnapshot(ctx context.Context) error {
	if ss.snap != nil || ss.bf != nil || len(ss.toSnapshot) == 0 {
		return nil
	}
	req := ss.toSnapshot[0]
	// A copy for one target replaces its rows there in one target
	// transaction (capture.SnapshotRequest.Target): one transaction here.
	if ti := ss.tables[req.Table]; ti != nil && len(ti.pk) > 0 && req.Target == "" {
		ss.toSnapshot = ss.toSnapshot[1:]
		ss.src.setStatus(func(st *Status) { st.SnapshotsPending = len(ss.toSnapshot) + 1 })
		return ss.startBackfill(ctx, req, ti)
	}
	repl, err := ss.src.connectReplication(ctx)
	if err != nil {
		return err
	}
	defer repl.Close(context.WithoutCancel(ctx)) // drops the temporary slot
	name := fmt.Sprintf("%.40s_snap_%d", ss.src.cfg.Slot, time.Now().UnixNano())
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, name, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		Temporary: true, SnapshotAction: "EXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication,
	})
	if err != nil {
		return fmt.Errorf("export a snapshot for %s: %w", req.Table, err)
	}
	at, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return fmt.Errorf("export a snapshot for %s: %w", req.Table, err)
	}
	conn, err := ss.src.connectCatalog(ctx)
	if err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err == nil {
		_, err = tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(res.SnapshotName))
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("import the snapshot for %s: %w", req.Table, err)
	}
	var parts []snapshotPart
	if n := ss.src.cfg.Parallelism; n > 1 {
		if parts, err = ss.importParts(ctx, res.SnapshotName, n-1); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return fmt.Errorf("import the snapshot for %s: %w", req.Table, err)
		}
	}
	ss.toSnapshot = ss.toSnapshot[1:]
	ss.src.setStatus(func(st *Status) { st.SnapshotsPending = len(ss.toSnapshot) + 1 })
	ss.snap = &snapshot{req: req, at: capture.Position(at), conn: conn, tx: tx, parts: parts, took: time.Now()}
	ss.src.log.Info("snapshot exported", "scope", req.Scope, "table", req.Table, "at", ss.snap.at)
	return nil
}

// snapshotDue reports whether the stream has reached the waiting
// snapshot's point: the next transaction commits at or after it, or, between
// transactions, the server has sent everything before it.
func (ss *session) snapshotDue(nextCommit capture.Position) bool {
	return ss.snap != nil && ss.txn == nil && (nextCommit >= ss.snap.at || ss.serverEnd >= ss.snap.at)
}

// copySnapshot passes the waiting snapshot to the sink as one transaction,
// waits until it is durable, records it done, and prepares the next.
func (ss *session) copySnapshot(ctx context.Context) error {
	sn := ss.snap
	defer func() {
		sn.close(ctx)
		ss.snap = nil
		ss.txn = nil
		ss.src.setStatus(func(st *Status) { st.Snapshot, st.SnapshotsPending = nil, len(ss.toSnapshot) })
	}()
	ti := ss.tables[sn.req.Table]
	if ti == nil {
		return retry.Terminal(fmt.Errorf("snapshot of %s: the table is not published", sn.req.Table))
	}
	query, args := "SELECT * FROM "+quoteTable(sn.req.Table), []any(nil)
	var where string
	if sn.req.Where != nil {
		where, args = sn.req.Where(nil)
		query += " WHERE " + where
	}
	prog := &capture.SnapshotProgress{Scope: sn.req.Scope, Table: sn.req.Table.String(), Estimate: ss.estimate(ctx, sn.tx, query, args), Started: time.Now()}
	txn := &capture.Txn{ID: "snapshot", Pos: sn.at - 1, Ack: ss.lastAck, CommitTime: sn.took.UTC(), Snapshot: true}
	ss.txn = txn // an open transaction: nothing past it is confirmed meanwhile
	if err := ss.sink.Begin(ctx, txn); err != nil {
		return err
	}
	if sn.req.ExitWhere != nil {
		exitWhere, exitArgs := sn.req.ExitWhere(nil)
		if _, err := ss.copyRows(ctx, sn, txn, capture.OpDelete, exitWhere, exitArgs, prog); err != nil {
			return err
		}
	}
	table, err := ss.copyRows(ctx, sn, txn, capture.OpRead, where, args, prog)
	if err != nil {
		return err
	}
	ss.reportProgress(prog)
	sent := int(prog.Rows)
	if sn.req.Truncate {
		sent++
	}
	if err := capture.EndCopy(ctx, ss.sink, txn, table, sn.req.Scope, sent); err != nil {
		return err
	}
	if err := ss.sink.Commit(ctx, txn); err != nil {
		return err
	}
	ss.txn = nil
	if err := ss.sink.Drain(ctx); err != nil {
		return fmt.Errorf("finish snapshot of %s: %w", sn.req.Table, err)
	}
	if err := ss.snapshotter.SnapshotDone(ctx, sn.req, prog.Rows); err != nil {
		return err
	}
	ss.src.log.Info("snapshot done", "scope", prog.Scope, "table", prog.Table, "rows", prog.Rows, "took", time.Since(prog.Started).Round(time.Millisecond))
	return nil
}

// copyRows passes the rows of the table that where selects ("": all) in
// sn's snapshot to the sink as events of op: reads carry the row as
// After, deletes as Before. Reads of a Truncate request come after the
// truncate. The snapshot's connections read parts of the table at once
// if it has several (snapshot_parts.go). It returns the table the rows
// are of.
func (ss *session) copyRows(ctx context.Context, sn *snapshot, txn *capture.Txn, op capture.Op, where string, args []any, prog *capture.SnapshotProgress) (*capture.Table, error) {
	ti := ss.tables[sn.req.Table]
	query := "SELECT * FROM " + quoteTable(sn.req.Table)
	conds, err := ss.pageRanges(ctx, sn)
	if err != nil {
		return nil, err
	}
	if where != "" {
		query += " WHERE (" + where + ")"
		for i := range conds {
			conds[i] = " AND " + conds[i]
		}
	} else {
		for i := range conds {
			conds[i] = " WHERE " + conds[i]
		}
	}
	fail := func(err error) error { return fmt.Errorf("copy %s for scope %s: %w", sn.req.Table, sn.req.Scope, err) }
	// Text format: the same decoders read the copy and the stream.
	rows, err := sn.tx.Query(ctx, query+limitNone(conds), append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)...)
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	r, err := ss.newRelation(ctx, relationOf(sn.req.Table, rows.FieldDescriptions(), ti.pk))
	if err != nil {
		return nil, err
	}
	if op == capture.OpRead && sn.req.Truncate {
		if err := ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: r.table, Op: capture.OpTruncate, Scope: sn.req.Scope}); err != nil {
			return nil, err
		}
	}
	emit := func(raw [][]byte) error {
		for i, v := range raw {
			if v == nil {
				r.after[i] = nil
				continue
			}
			var err error
			if r.after[i], err = r.decoders[i](v); err != nil {
				return fmt.Errorf("copy %s: decode %s: %w", sn.req.Table, r.table.Columns[i].Name, err)
			}
		}
		ev := capture.Event{Txn: txn, Table: r.table, Op: op, After: r.after, Scope: sn.req.Scope}
		if op == capture.OpDelete {
			ev.Before, ev.After = r.after, nil
		}
		if err := ss.sink.Change(ctx, &ev); err != nil {
			return err
		}
		if prog.Rows++; prog.Rows%1000 == 0 {
			ss.reportProgress(prog)
			if err := ss.maybeConfirm(ctx, false); err != nil { // keeps the walsender's timeout at bay
				return err
			}
			prog.Log(ss.src.log)
		}
		return nil
	}
	if conds != nil { // the query above only described the rows
		rows.Close()
		ss.src.log.Debug("snapshot read in parts", "scope", sn.req.Scope, "table", sn.req.Table.String(), "parts", len(conds))
		err := readParts(ctx, sn, query, conds, args, func(batch [][][]byte) error {
			for _, raw := range batch {
				if err := emit(raw); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fail(err)
		}
		return r.table, nil
	}
	for rows.Next() {
		if err := emit(rows.RawValues()); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	return r.table, nil
}

// limitNone is what the first query of copyRows appends: nothing, to
// read the rows, or LIMIT 0, to only describe them when parts read them.
func limitNone(conds []string) string {
	if conds != nil {
		return " LIMIT 0"
	}
	return ""
}

func (ss *session) reportProgress(p *capture.SnapshotProgress) {
	p.SetPercent()
	cp := *p
	ss.src.setStatus(func(st *Status) { st.Snapshot = &cp })
	ss.src.metrics.SnapshotRows.WithLabelValues(p.Scope, p.Table).Set(float64(p.Rows))
	ss.src.metrics.SnapshotEstimate.WithLabelValues(p.Scope, p.Table).Set(float64(p.Estimate))
}

// estimate asks the planner how many rows the copy will read; -1 if it
// cannot say. It runs in a savepoint, so that a failure does not abort
// the snapshot's transaction.
func (ss *session) estimate(ctx context.Context, tx pgx.Tx, query string, args []any) int64 {
	var plan []byte
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		return sp.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+query, args...).Scan(&plan)
	})
	if err != nil {
		ss.src.log.Warn("could not estimate the snapshot's size", "error", err)
		return -1
	}
	var doc []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &doc); err != nil || len(doc) == 0 {
		return -1
	}
	return int64(doc[0].Plan.Rows)
}

// relationOf describes a copied table as a Relation message would, its
// primary key columns flagged as the identity.
func relationOf(id capture.TableID, fields []pgconn.FieldDescription, pk []string) *pglogrepl.RelationMessage {
	m := &pglogrepl.RelationMessage{Namespace: id.Schema, RelationName: id.Name, ReplicaIdentity: 'd'}
	for _, f := range fields {
		c := &pglogrepl.RelationMessageColumn{Name: f.Name, DataType: f.DataTypeOID, TypeModifier: f.TypeModifier}
		if slices.Contains(pk, f.Name) {
			c.Flags = 1
		}
		m.Columns = append(m.Columns, c)
	}
	m.ColumnNum = uint16(len(m.Columns))
	return m
}
