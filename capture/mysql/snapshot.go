package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// An initial snapshot copies one table for one scope, exactly and without
// table locks. START TRANSACTION WITH CONSISTENT SNAPSHOT opens an InnoDB
// snapshot, and MariaDB reports the binlog position it matches
// (binlog_snapshot_file/position): every transaction ending at or before
// it is in the snapshot, none after. The session goes on reading the
// binlog; the sink drops live changes to the table for that scope
// meanwhile. When the stream reaches the position (a transaction starts
// at or after it, or the stream is idle there), the session reads the
// table in the snapshot transaction and passes the rows as one snapshot
// transaction at position+1: a truncate and a read per row, or, for a
// changed scope, a delete per row leaving and a read per row entering it
// (see capture.Snapshotter). So every
// change is in the copy or after it, never both, never neither. One
// table at a time, so each is recorded done on its own.
//
// MySQL has no binlog_snapshot_* status: there the snapshot position is
// read under a brief FLUSH TABLES WITH READ LOCK (needs RELOAD), as
// mysqldump --single-transaction --master-data does.

// snapshot is a table copy waiting for the stream to reach its point.
type snapshot struct {
	req  capture.SnapshotRequest
	at   capture.Position // the snapshot's binlog position
	st   state            // the resume state there
	db   *sql.DB
	conn *sql.Conn // holds the snapshot transaction
	took time.Time
}

func (sn *snapshot) close() {
	sn.conn.Close()
	sn.db.Close()
}

// snapshotChunk is how many rows one query of a copy reads.
const snapshotChunk = 10000

// prepareSnapshot opens the snapshot transaction of the next pending
// snapshot, if any, and reads its binlog position.
func (ss *session) prepareSnapshot(ctx context.Context) error {
	if ss.snap != nil || ss.bf != nil || len(ss.toSnapshot) == 0 {
		return nil
	}
	req := ss.toSnapshot[0]
	ti := ss.srv.tables[req.Table]
	if ti == nil {
		return retry.Terminal(fmt.Errorf("snapshot of %s for scope %s: the table is not published by source %s", req.Table, req.Scope, ss.src.cfg.Name))
	}
	cols, err := catalogColumns(ctx, ss.db, req.Table)
	if err != nil {
		return err
	}
	if backfillable(cols, ti.pk) {
		if ss.syncer == nil {
			return nil // its watermarks must come after the stream's start: run starts it then
		}
		ss.toSnapshot = ss.toSnapshot[1:]
		ss.src.setStatus(func(st *Status) { st.SnapshotsPending = len(ss.toSnapshot) + 1 })
		return ss.startBackfill(ctx, req, ti)
	}
	db, err := ss.src.openDB(map[string]string{"time_zone": "'+00:00'"})
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return fmt.Errorf("connect for the snapshot of %s: %w", req.Table, err)
	}
	sn := &snapshot{req: req, db: db, conn: conn, took: time.Now()}
	if err := ss.openSnapshot(ctx, sn); err != nil {
		sn.close()
		return fmt.Errorf("open a snapshot of %s: %w", req.Table, err)
	}
	ss.toSnapshot = ss.toSnapshot[1:]
	ss.src.setStatus(func(st *Status) { st.SnapshotsPending = len(ss.toSnapshot) + 1 })
	ss.snap = sn
	ss.src.log.Info("snapshot opened", "scope", req.Scope, "table", req.Table, "at", sn.st.String())
	return nil
}

func (ss *session) openSnapshot(ctx context.Context, sn *snapshot) error {
	exec := func(q string) error {
		if _, err := sn.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		return nil
	}
	if err := exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return err
	}
	st := state{Flavor: ss.srv.flavor}
	if ss.srv.flavor == gomysql.MariaDBFlavor {
		if err := exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			return err
		}
		rows, err := queryMaps(ctx, sn.conn, "SHOW STATUS LIKE 'binlog_snapshot_%'")
		if err != nil {
			return err
		}
		var pos uint64
		for _, r := range rows {
			switch r["variable_name"] {
			case "Binlog_snapshot_file":
				st.File = r["value"]
			case "Binlog_snapshot_position":
				fmt.Sscan(r["value"], &pos)
			}
		}
		if st.File == "" || pos == 0 {
			return errors.New("the server reports no binlog_snapshot_file/position")
		}
		st.Pos = uint32(pos)
		if st.GTID, err = mariadbGTIDAt(ctx, sn.conn, st.File, st.Pos); err != nil {
			return err
		}
	} else {
		if err := exec("FLUSH TABLES WITH READ LOCK"); err != nil {
			return err
		}
		err := exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
		if err == nil {
			st.File, st.Pos, st.GTID, err = masterStatus(ctx, sn.conn)
		}
		if uerr := exec("UNLOCK TABLES"); err == nil {
			err = uerr
		}
		if err != nil {
			return err
		}
	}
	at, err := position(st.File, st.Pos)
	if err != nil {
		return err
	}
	sn.st, sn.at = st, at
	return nil
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

// takeSnapshot copies the waiting snapshot and opens the next.
func (ss *session) takeSnapshot(ctx context.Context) error {
	if err := ss.copySnapshot(ctx); err != nil {
		return err
	}
	return ss.prepareSnapshot(ctx)
}

// copySnapshot passes the waiting snapshot to the sink as one transaction,
// waits until it is durable and records it done.
func (ss *session) copySnapshot(ctx context.Context) error {
	sn := ss.snap
	defer func() {
		sn.close()
		ss.snap = nil
		ss.src.setStatus(func(st *Status) { st.Snapshot, st.SnapshotsPending = nil, len(ss.toSnapshot) })
	}()
	req := sn.req
	cols, err := catalogColumns(ctx, sn.conn, req.Table)
	if err != nil {
		return err
	}
	table, conv, err := snapshotTable(req.Table, cols, ss.srv.tables[req.Table].pk)
	if err != nil {
		return err
	}
	prog := &capture.SnapshotProgress{Scope: req.Scope, Table: req.Table.String(), Estimate: estimate(ctx, sn.conn, req.Table), Started: time.Now()}
	txn := &capture.Txn{ID: "snapshot", Pos: sn.at + 1, Ack: sn.at + 1, CommitTime: sn.took.UTC(), Snapshot: true}
	if err := ss.sink.Begin(ctx, txn); err != nil {
		return err
	}
	ss.unflushed = true
	if req.Truncate {
		if err := ss.sink.Change(ctx, &capture.Event{Txn: txn, Table: table, Op: capture.OpTruncate, Scope: req.Scope}); err != nil {
			return err
		}
	}
	c := &copier{ss: ss, sn: sn, txn: txn, table: table, cols: cols, conv: conv, prog: prog}
	if req.ExitWhere != nil {
		if err := c.rows(ctx, capture.OpDelete, req.ExitWhere); err != nil {
			return err
		}
	}
	if err := c.rows(ctx, capture.OpRead, req.Where); err != nil {
		return err
	}
	ss.reportProgress(prog)
	sent := int(prog.Rows)
	if req.Truncate {
		sent++
	}
	if err := capture.EndCopy(ctx, ss.sink, txn, table, req.Scope, sent); err != nil {
		return err
	}
	if err := ss.sink.Commit(ctx, txn); err != nil {
		return err
	}
	ss.queue.push(savePoint{ack: txn.Ack, st: ss.resumeAt(ss.last), sent: true})
	if err := ss.sink.Drain(ctx); err != nil {
		return fmt.Errorf("finish snapshot of %s: %w", req.Table, err)
	}
	ss.unflushed = false
	if err := ss.snapshotter.SnapshotDone(ctx, req, prog.Rows); err != nil {
		return err
	}
	ss.src.log.Info("snapshot done", "scope", prog.Scope, "table", prog.Table, "rows", prog.Rows, "took", time.Since(prog.Started).Round(time.Millisecond))
	return nil
}

// copier reads the rows of a snapshot in chunks of its transaction.
type copier struct {
	ss    *session
	sn    *snapshot
	txn   *capture.Txn
	table *capture.Table
	cols  []catalogColumn
	conv  []converter
	prog  *capture.SnapshotProgress
}

// rows passes the rows filter selects (nil: every row) to the sink as
// events of op, chunk by chunk in key order: reads carry the row as After,
// deletes as Before.
func (c *copier) rows(ctx context.Context, op capture.Op, filter func([]any) (string, []any)) error {
	ss, req, table := c.ss, c.sn.req, c.table
	row := make(capture.Row, len(c.cols))
	raw := make([]sql.RawBytes, len(c.cols))
	dest := make([]any, len(c.cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	var after []any // key of the last row read
	for {
		query, args := chunkQuery(filter, table, after)
		rows, err := c.sn.conn.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("copy %s for scope %s: %w", req.Table, req.Scope, err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("copy %s for scope %s: %w", req.Table, req.Scope, err)
			}
			for i, v := range raw {
				if v == nil {
					row[i] = nil
					continue
				}
				if row[i], err = c.conv[i]([]byte(v)); err != nil {
					rows.Close()
					return fmt.Errorf("copy %s: decode %s: %w", req.Table, table.Columns[i].Name, err)
				}
			}
			after = after[:0]
			for _, k := range table.Key {
				if c.cols[k].binary {
					after = append(after, append([]byte(nil), raw[k]...))
				} else {
					after = append(after, string(raw[k]))
				}
			}
			ev := capture.Event{Txn: c.txn, Table: table, Op: op, After: row, Scope: req.Scope}
			if op == capture.OpDelete {
				ev.Before, ev.After = row, nil
			}
			if err := ss.sink.Change(ctx, &ev); err != nil {
				rows.Close()
				return err
			}
			n++
			prog := c.prog
			if prog.Rows++; prog.Rows%1000 == 0 {
				ss.reportProgress(prog)
				prog.Log(ss.src.log)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("copy %s for scope %s: %w", req.Table, req.Scope, err)
		}
		if n < snapshotChunk {
			return nil
		}
	}
}

// chunkQuery reads the next chunk of rows after the key after (nil: from
// the start), in key order, with filter (nil: every row).
func chunkQuery(filter func([]any) (string, []any), t *capture.Table, after []any) (string, []any) {
	cols := selectList(t)
	key := make([]string, len(t.Key))
	marks := make([]string, len(t.Key))
	for i, k := range t.Key {
		key[i] = quoteIdent(t.Columns[k].Name)
		marks[i] = "?"
	}
	var where []string
	var args []any
	if filter != nil {
		var w string
		w, args = filter(nil)
		where = append(where, "("+w+")")
	}
	if after != nil {
		where = append(where, "("+strings.Join(key, ", ")+") > ("+strings.Join(marks, ", ")+")")
		args = append(args, after...)
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + quoteTable(capture.TableID{Schema: t.Schema, Name: t.Name})
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(key, ", "), snapshotChunk)
	return q, args
}

// selectList returns the expressions that select t's columns as the
// converters read them.
func selectList(t *capture.Table) []string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quoteIdent(c.Name)
		if c.Type == "float" {
			// The text protocol prints FLOAT with 6 significant digits;
			// as a DOUBLE its text parses back to the exact float32.
			cols[i] = "CAST(" + cols[i] + " AS DOUBLE)"
		}
	}
	return cols
}

func (ss *session) reportProgress(p *capture.SnapshotProgress) {
	p.SetPercent()
	cp := *p
	ss.src.setStatus(func(st *Status) { st.Snapshot = &cp })
	ss.src.metrics.SnapshotRows.WithLabelValues(p.Scope, p.Table).Set(float64(p.Rows))
	ss.src.metrics.SnapshotEstimate.WithLabelValues(p.Scope, p.Table).Set(float64(p.Estimate))
}

// estimate is the server's estimate of the table's rows; -1 if unknown.
func estimate(ctx context.Context, conn *sql.Conn, id capture.TableID) int64 {
	var n sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", id.Schema, id.Name).Scan(&n)
	if err != nil || !n.Valid {
		return -1
	}
	return n.Int64
}

// catalogColumn is a column as information_schema describes it.
type catalogColumn struct {
	name, dataType, columnType, charset string
	scale, fsp                          int
	binary                              bool // compared as bytes in key conditions
}

func catalogColumns(ctx context.Context, conn queryer, id capture.TableID) ([]catalogColumn, error) {
	rows, err := conn.QueryContext(ctx, `
SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, COALESCE(CHARACTER_SET_NAME, ''),
       COALESCE(NUMERIC_SCALE, 0), COALESCE(DATETIME_PRECISION, 0)
  FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, id.Schema, id.Name)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", id, err)
	}
	defer rows.Close()
	var cols []catalogColumn
	for rows.Next() {
		var c catalogColumn
		if err := rows.Scan(&c.name, &c.dataType, &c.columnType, &c.charset, &c.scale, &c.fsp); err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", id, err)
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// snapshotTable describes the table as the snapshot reads it, with
// converters for text-protocol values into the value contract.
func snapshotTable(id capture.TableID, cols []catalogColumn, pk []string) (*capture.Table, []converter, error) {
	t := &capture.Table{Schema: id.Schema, Name: id.Name, Columns: make([]capture.Column, len(cols))}
	conv := make([]converter, len(cols))
	for i := range cols {
		c := &cols[i]
		typ, f, err := catalogType(c)
		if err != nil {
			return nil, nil, fmt.Errorf("snapshot of %s: column %s: %w", id, c.name, err)
		}
		t.Columns[i] = capture.Column{Name: c.name, Type: typ}
		conv[i] = f
	}
	for _, k := range pk {
		i := t.Column(k)
		if i < 0 {
			return nil, nil, fmt.Errorf("snapshot of %s: primary key column %s is gone", id, k)
		}
		t.Key = append(t.Key, i)
	}
	if len(t.Key) == 0 {
		return nil, nil, retry.Terminal(fmt.Errorf("snapshot of %s: the table has no primary key", id))
	}
	return t, conv, nil
}

// catalogType maps a catalog column onto the names and converters the
// binlog decoding uses. The connection reads text as utf8mb4, so text
// needs no conversion here.
func catalogType(c *catalogColumn) (string, converter, error) {
	unsigned := strings.Contains(c.columnType, "unsigned")
	sign := func(s string) string {
		if unsigned {
			return s + " unsigned"
		}
		return s
	}
	switch c.dataType {
	case "tinyint":
		return sign("tinyint"), convInt32, nil
	case "smallint":
		return sign("smallint"), convInt32, nil
	case "mediumint":
		return sign("mediumint"), convInt32, nil
	case "int", "integer":
		if unsigned {
			return "int unsigned", convInt64, nil
		}
		return "int", convInt32, nil
	case "bigint":
		if unsigned {
			return "bigint unsigned", convUint64, nil
		}
		return "bigint", convInt64, nil
	case "decimal", "numeric":
		return strings.TrimSuffix(c.columnType, " unsigned"), convDecimal(c.scale), nil
	case "float":
		return "float", convFloat, nil
	case "double", "real":
		return "double", convDouble, nil
	case "bit":
		var n int
		fmt.Sscanf(c.columnType, "bit(%d)", &n)
		return c.columnType, convBit(n), nil
	case "enum", "set":
		c.binary = false
		return c.columnType, func(v any) (any, error) { return asString(v) }, nil
	case "date":
		return "date", convDate, nil
	case "datetime":
		return withFSP("datetime", c.fsp), convDatetime, nil
	case "timestamp":
		return withFSP("timestamp", c.fsp), convTimestamp, nil
	case "time":
		return withFSP("time", c.fsp), convTime(c.fsp), nil
	case "year":
		return "year", convYear, nil
	case "json":
		return "json", convJSON, nil
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		c.binary = true
		return "geometry", convGeometry, nil
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		if c.charset == "binary" {
			c.binary = true
			return c.columnType, convBytes, nil
		}
		if _, _, err := textDecoder(c.charset); err != nil {
			return "", nil, retry.Terminal(err)
		}
		return c.columnType, func(v any) (any, error) { return asString(v) }, nil
	case "binary":
		c.binary = true
		var n int
		fmt.Sscanf(c.columnType, "binary(%d)", &n)
		return c.columnType, convBinary(n), nil
	case "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		c.binary = true
		return c.columnType, convBytes, nil
	}
	return "", nil, retry.Terminal(fmt.Errorf("type %s is not supported", c.columnType))
}
