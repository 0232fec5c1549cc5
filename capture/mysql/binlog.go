package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

const (
	// heartbeatPeriod is how often an idle server sends a heartbeat.
	heartbeatPeriod = 5 * time.Second
	// silenceLimit is how long the stream may stay silent, heartbeats
	// included, before the connection counts as lost.
	silenceLimit = 6 * heartbeatPeriod
	// bufferRows and bufferBytes bound the rows of a transaction held
	// back until its commit position is known (MariaDB's GTID event does
	// not give it): beyond either, the position is looked up with SHOW
	// BINLOG EVENTS and the rows stream through. A lookup costs a
	// round trip and some CPU, which at 1,000 rows was a fifth of
	// capture's.
	bufferRows  = 10_000
	bufferBytes = 4 << 20 // of rows events
	// flushEvery bounds how long committed data may sit unflushed while
	// the stream stays busy.
	flushEvery = 50 * time.Millisecond
)

// session is one binlog dump connection. It runs on one goroutine.
type session struct {
	src    *Source
	db     *sql.DB
	srv    *server
	sink   capture.Sink
	cs     charsets
	syncer *replication.BinlogSyncer
	stream *replication.BinlogStreamer

	file    string           // the binlog file being read
	readPos capture.Position // end of the last event read
	gtids   gtidSet          // GTID state through the last commit read
	last    state            // resume state after the last commit read

	queue     saveQueue
	toSave    *state // durable, not yet saved
	lastSave  time.Time
	savedFile string    // the binlog file of the saved resume state, "" if none
	nextRisk  time.Time // when to check binlog retention next
	unflushed bool
	lastFlush time.Time
	lastEvent time.Time // when the last event, heartbeats included, arrived

	byID map[uint64]*tableMap // current table maps by table id; nil value: not published
	// origins maps the table ids of Config.OriginTables to their
	// target's name.
	origins map[uint64]string
	hist    schemaHistory
	txn     *openTxn

	prepared  map[string]*preparedXA // by xid
	heldBytes int                    // the row events prepared holds
	// skipTo is the end of the last transaction published before the
	// session began, when it resumes before it (state.Published).
	skipTo capture.Position

	// counters caches the events counter of each table and op:
	// looking it up by label values builds the table's name and hashes
	// it, for every row.
	counters map[counterKey]prometheus.Counter

	snapshotter capture.Snapshotter // nil if the sink takes no snapshots
	toSnapshot  []capture.SnapshotRequest
	snap        *snapshot // taken, waiting for the stream to reach it
	bf          *backfill // the chunked backfill running, if any
	// signalIDs are the binlog's table ids of the signal table.
	signalIDs map[uint64]bool
}

// openTxn is the transaction being read.
type openTxn struct {
	id         string // GTID text, "" for none
	addGTID    func() error
	startFile  string
	startOff   uint32
	inBegin    bool             // a BEGIN query opened it: the commit is an XID or COMMIT
	xa         bool             // an XA transaction: its rows wait for its outcome (xa.go)
	xid        string           // the XA transaction's xid, from its XA END
	skip       bool             // published before the session began: read, not sent
	switches   []capture.Switch // switch points read in it (switch.go)
	end        capture.Position // its commit's end, once known
	commitTime time.Time
	ctxn       *capture.Txn // once begun at the sink
	origin     string       // set by an origin mark, its first row change (origin.go)
	rowsSeen   bool         // a row change was read
	buf        []heldRows
	bufRows    int
	bufBytes   int // of the events in buf
}

func (s *Source) newSession(ctx context.Context, db *sql.DB, srv *server, sink capture.Sink) (*session, error) {
	ss := &session{src: s, db: db, srv: srv, sink: sink, byID: map[uint64]*tableMap{}, hist: schemaHistory{byMeta: map[string]*tableMap{}}, signalIDs: map[uint64]bool{}}
	var err error
	if ss.cs, err = loadCharsets(ctx, db); err != nil {
		return nil, err
	}
	if sn, ok := sink.(capture.Snapshotter); ok {
		ss.snapshotter, ss.toSnapshot = sn, sn.Snapshots()
		s.setStatus(func(st *Status) { st.SnapshotsPending = len(ss.toSnapshot) })
	}
	return ss, nil
}

// startState is where reading begins: the saved position, else the first
// pending snapshot's, else the binlog's current end.
func (ss *session) startState(ctx context.Context) (state, error) {
	if ss.srv.saved != nil {
		return *ss.srv.saved, nil
	}
	if ss.snap != nil {
		return ss.snap.st, nil
	}
	file, pos, gtid, err := masterStatus(ctx, ss.db)
	if err != nil {
		return state{}, err
	}
	st := state{Flavor: ss.srv.flavor, File: file, Pos: pos, GTID: gtid}
	if ss.srv.flavor == gomysql.MariaDBFlavor {
		if st.GTID, err = mariadbGTIDAt(ctx, ss.db, file, pos); err != nil {
			return state{}, err
		}
	}
	return st, nil
}

func mariadbGTIDAt(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, file string, pos uint32) (string, error) {
	var g sql.NullString
	if err := q.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, pos).Scan(&g); err != nil {
		return "", fmt.Errorf("read gtid position at %s:%d: %w", file, pos, err)
	}
	return g.String, nil
}

func (ss *session) start(ctx context.Context) error {
	st, err := ss.startState(ctx)
	if err != nil {
		return err
	}
	if ss.srv.saved == nil && ss.snap == nil {
		// A first start reads from the binlog's end: save that at once,
		// or a stop before anything is saved would have the next start
		// begin at a later end, skipping what was written in between.
		ss.toSave = &st
		if err := ss.save(ctx, true); err != nil {
			return err
		}
	}
	if lost := ss.srv.lostFrom; lost != nil && st.position() <= lost.position() {
		return retry.Terminal(fmt.Errorf("%w; the binlog now starts at %s, not after %s: its positions were reset (RESET MASTER), and messages and target checkpoints from before would hide the new changes; delete the scopes' streams and targets' scope_info rows to start over", ss.srv.lost, st, lost))
	}
	if !ss.srv.hasGTID {
		st.GTID = ""
	}
	st.Flavor = ss.srv.flavor
	if ss.srv.hasGTID {
		if ss.gtids, err = parseGTIDSet(ss.srv.flavor, st.GTID); err != nil {
			return retry.Terminal(err)
		}
	}
	host, port, err := ss.src.hostPort()
	if err != nil {
		return err
	}
	published := make(map[capture.TableID]bool, len(ss.srv.tables))
	for id := range ss.srv.tables {
		published[id] = true
	}
	decoded := maps.Clone(published)
	decoded[ss.src.signalTable()] = true // the watermarks
	ss.syncer = replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:                ss.src.cfg.ServerID,
		Flavor:                  ss.srv.flavor,
		Host:                    host,
		Port:                    port,
		User:                    ss.src.dsn.User,
		Password:                ss.src.dsn.Passwd,
		TLSConfig:               ss.srv.tls,
		Charset:                 "utf8mb4",
		UseDecimal:              true,
		ParseTime:               false,
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         heartbeatPeriod,
		DisableRetrySync:        true, // Run's caller retries from the saved position
		EventCacheCount:         256,
		Logger:                  slogOf(ss.src.log.Named("go-mysql")),
		// Rows of unpublished tables are not decoded at all.
		RowsEventDecodeFunc: func(e *replication.RowsEvent, data []byte) error {
			pos, err := e.DecodeHeader(data)
			if err != nil {
				return err
			}
			id := capture.TableID{Schema: string(e.Table.Schema), Name: string(e.Table.Table)}
			if _, origin := ss.src.cfg.OriginTables[id]; !decoded[id] && !origin {
				return nil
			}
			return e.DecodeData(pos, data)
		},
	})
	if st.GTID != "" {
		ss.stream, err = ss.syncer.StartSyncGTID(ss.gtids.set.Clone())
	} else {
		ss.stream, err = ss.syncer.StartSync(gomysql.Position{Name: st.File, Pos: st.Pos})
	}
	if err != nil {
		return ss.streamError(fmt.Errorf("start reading the binlog at %s: %w", st, err), st)
	}
	ss.file, ss.last, ss.skipTo = st.File, st, st.Published
	ss.readPos = st.position()
	if ss.srv.saved != nil {
		ss.savedFile = ss.srv.saved.File
	} else {
		// Nothing saved yet: save the start, so that a restart resumes
		// here even if no transaction of a published table comes first.
		ss.queue.push(savePoint{st: st})
		ss.warnPreparedXA(ctx, st)
	}
	ss.lastEvent, ss.lastSave, ss.lastFlush = time.Now(), time.Now(), time.Now()
	ss.src.log.Info("streaming", "flavor", ss.srv.flavor, "from", st.String(), "tables", len(published))
	ss.src.setStatus(func(s *Status) {
		s.Connected, s.Error = true, ""
		s.File, s.Pos, s.GTIDSet = st.File, st.Pos, st.GTID
		if ss.srv.saved != nil {
			s.Saved, s.SavedGTID = ss.srv.saved.File+":"+fmt.Sprint(ss.srv.saved.Pos), ss.srv.saved.GTID
		}
	})
	return nil
}

// run reads the binlog until ctx is done or an error.
func (ss *session) run(ctx context.Context) error {
	defer func() {
		ss.stopBackfill()
		if ss.snap != nil {
			ss.snap.close()
		}
		if ss.syncer != nil {
			ss.syncer.Close()
		}
	}()
	if err := ss.prepareSnapshot(ctx); err != nil {
		return err
	}
	if err := ss.start(ctx); err != nil {
		return err
	}
	if err := ss.prepareSnapshot(ctx); err != nil { // a backfill starts once the stream has
		return err
	}
	for {
		wait := ss.src.cfg.SaveInterval
		if ss.unflushed {
			wait = ss.src.cfg.IdleFlush
		}
		gctx, cancel := context.WithTimeout(ctx, wait)
		ev, err := ss.stream.GetEvent(gctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ss.stop(ctx)
		case errors.Is(err, context.DeadlineExceeded):
			if err := ss.idle(ctx); err != nil {
				return ss.orStop(ctx, err)
			}
			continue
		case err != nil:
			return ss.streamError(fmt.Errorf("read binlog event: %w", err), ss.last)
		}
		if err := ss.handle(ctx, ev); err != nil {
			return ss.orStop(ctx, err)
		}
		if err := ss.maybeSave(ctx, false); err != nil {
			return ss.orStop(ctx, err)
		}
	}
}

func (ss *session) orStop(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ss.stop(ctx)
	}
	return err
}

// streamError marks the server's "cannot read the binlog from there"
// error (1236, ER_MASTER_FATAL_ERROR_READING_BINLOG) terminal.
func (ss *session) streamError(err error, from state) error {
	var me *gomysql.MyError
	if errors.As(err, &me) && me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		files, _ := binlogFiles(context.Background(), ss.db)
		err := fmt.Errorf("%w (server: %s)", purged(ss.src.cfg.Name, from, files), me.Message)
		if ss.src.cfg.Resnapshot && files != nil && !slices.Contains(files, from.File) {
			return err // the next Run finds the purge and takes the snapshots again
		}
		return retry.Terminal(err)
	}
	return err
}

// idle runs when nothing arrived for a while: flush the sink, take a
// snapshot the stream has reached, save the durable position.
func (ss *session) idle(ctx context.Context) error {
	if ss.unflushed {
		if err := ss.flush(ctx); err != nil {
			return err
		}
	}
	if err := ss.takeAddedSnapshots(ctx); err != nil {
		return err
	}
	if ss.snap != nil && ss.txn == nil && ss.readPos >= ss.snap.at {
		if err := ss.takeSnapshot(ctx); err != nil {
			return err
		}
	}
	if err := ss.backfillFailed(); err != nil {
		return err
	}
	if ss.bf != nil {
		if err := ss.recordBackfill(ctx); err != nil {
			return err
		}
	}
	if silent := time.Since(ss.lastEvent); silent > silenceLimit {
		return fmt.Errorf("read binlog event: no event or heartbeat for %s: connection lost", silent.Round(time.Second))
	}
	if ss.txn == nil && len(ss.queue.q) == 0 && ss.readPos > ss.last.position() {
		// Caught up, between transactions, with only rotations and
		// heartbeats since the last commit: resume from here, so that an
		// idle source does not hold on to binlog files it has read.
		ss.last = state{Flavor: ss.srv.flavor, File: ss.file, Pos: uint32(ss.readPos), GTID: ss.gtids.String()}
		ss.queue.push(savePoint{st: ss.resumeAt(ss.last)})
	}
	return ss.maybeSave(ctx, false)
}

func (ss *session) flush(ctx context.Context) error {
	if err := ss.sink.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	ss.unflushed, ss.lastFlush = false, time.Now()
	return nil
}

func (ss *session) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	now := time.Now()
	ss.lastEvent = now
	ss.src.metrics.BytesRead.Add(float64(h.EventSize))
	if h.Timestamp != 0 && h.EventType != replication.HEARTBEAT_EVENT && h.EventType != replication.HEARTBEAT_LOG_EVENT_V2 {
		ss.src.metrics.SecondsBehind.Set(max(0, now.Sub(time.Unix(int64(h.Timestamp), 0)).Seconds()))
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		ss.file = string(e.NextLogName)
		pos, err := position(ss.file, uint32(e.Position))
		if err != nil {
			return err
		}
		ss.readPos = max(ss.readPos, pos) // see below
		return nil
	case *replication.HeartbeatEvent:
		if ss.txn == nil && h.LogPos > 0 {
			file := ss.file
			if e.Filename != "" {
				file = e.Filename
			}
			if pos, err := position(file, h.LogPos); err == nil && pos > ss.readPos {
				ss.file, ss.readPos = file, pos
			}
		}
		return nil
	case *replication.FormatDescriptionEvent:
		return nil
	case *replication.MariadbGTIDEvent:
		g := e.GTID
		t, err := ss.begin(ctx, h, g.String())
		if err != nil {
			return err
		}
		t.inBegin = !e.IsStandalone()
		t.xa = e.Flags&mariadbPreparedXA != 0
		if set, ok := ss.gtids.set.(*gomysql.MariadbGTIDSet); ok {
			t.addGTID = func() error { return set.AddSet(&g) }
		}
	case *replication.GTIDEvent:
		id := ""
		u, err := uuid.FromBytes(e.SID)
		if err == nil && e.GNO > 0 {
			id = fmt.Sprintf("%s:%d", u, e.GNO)
		}
		t, err := ss.begin(ctx, h, id)
		if err != nil {
			return err
		}
		if e.ImmediateCommitTimestamp != 0 {
			t.commitTime = e.ImmediateCommitTime().UTC()
		}
		if e.TransactionLength > 0 {
			if t.end, err = position(t.startFile, t.startOff+uint32(e.TransactionLength)); err != nil {
				return err
			}
		}
		if set, ok := ss.gtids.set.(*gomysql.MysqlGTIDSet); ok && id != "" {
			gno := e.GNO
			t.addGTID = func() error { set.AddGTID(u, gno); return nil }
		}
	case *replication.QueryEvent:
		if err := ss.query(ctx, h, e); err != nil {
			return err
		}
	case *replication.TableMapEvent:
		if err := ss.tableMap(e); err != nil {
			return err
		}
	case *replication.RowsEvent:
		if err := ss.rows(ctx, h, e); err != nil {
			return err
		}
	case *replication.XIDEvent:
		if err := ss.commit(ctx, h); err != nil {
			return err
		}
	case *replication.GenericEvent:
		if h.EventType == replication.XA_PREPARE_LOG_EVENT {
			if err := ss.xaPrepare(ctx, h, e.Data); err != nil {
				return err
			}
		}
	}
	if h.LogPos > 0 && h.Flags&replication.LOG_EVENT_ARTIFICIAL_F == 0 {
		pos, err := position(ss.file, h.LogPos)
		if err != nil {
			return err
		}
		// A stream that starts from a GTID begins with the file's
		// rotation and header events (its GTID list), which end near
		// the file's start, before the position the stream starts
		// from: the stream does not move back. Moving back kept a
		// snapshot taken at the start waiting for the first heartbeat,
		// 5 s.
		ss.readPos = max(ss.readPos, pos)
		ss.src.metrics.ReadPosition.Set(float64(ss.readPos))
	}
	return nil
}

// begin opens a transaction at the event h (a GTID event or a BEGIN or
// DDL query without one), first taking a waiting snapshot if the stream
// has reached its point.
func (ss *session) begin(ctx context.Context, h *replication.EventHeader, id string) (*openTxn, error) {
	if ss.txn != nil {
		return nil, fmt.Errorf("transaction %s begins at %s:%d inside transaction %s", id, ss.file, h.LogPos-h.EventSize, ss.txn.id)
	}
	startOff := h.LogPos - h.EventSize
	start, err := position(ss.file, startOff)
	if err != nil {
		return nil, err
	}
	if ss.snap != nil && start >= ss.snap.at {
		if err := ss.takeSnapshot(ctx); err != nil {
			return nil, err
		}
	}
	ss.txn = &openTxn{id: id, startFile: ss.file, startOff: startOff, skip: start < ss.skipTo, commitTime: time.Unix(int64(h.Timestamp), 0).UTC(), addGTID: func() error { return nil }}
	return ss.txn, nil
}

// maybeSave saves the durable resume state, at most every SaveInterval
// unless force, and checks binlog retention every RetentionCheck, whether
// or not the saved state moved: a stuck position is the one at risk.
func (ss *session) maybeSave(ctx context.Context, force bool) error {
	if err := ss.save(ctx, force); err != nil {
		return err
	}
	if ss.savedFile != "" && time.Now().After(ss.nextRisk) {
		ss.nextRisk = time.Now().Add(ss.src.cfg.RetentionCheck)
		ss.checkRetention(ctx, ss.savedFile)
	}
	return nil
}

// save saves the durable resume state, at most every SaveInterval unless
// force.
func (ss *session) save(ctx context.Context, force bool) error {
	durable, idle := ss.sink.Durable()
	if bf := ss.bf; bf != nil { // a restart resumes the backfill from its last chunk recorded
		if idle {
			durable = bf.hold
		}
		durable, idle = min(durable, bf.hold), false
	}
	if st, ok := ss.queue.pop(durable, idle); ok {
		ss.toSave = &st
	}
	if ss.toSave == nil || (!force && time.Since(ss.lastSave) < ss.src.cfg.SaveInterval) {
		return nil
	}
	st := *ss.toSave
	b, err := jsonState(st)
	if err != nil {
		return err
	}
	if err := ss.src.cfg.Store.Save(ctx, ss.src.cfg.Name, b); err != nil {
		return fmt.Errorf("save position %s: %w", st, err)
	}
	ss.toSave, ss.lastSave, ss.savedFile = nil, time.Now(), st.File
	ss.src.metrics.SavedPosition.Set(float64(st.position()))
	ss.src.setStatus(func(s *Status) {
		s.Saved, s.SavedGTID = fmt.Sprintf("%s:%d", st.File, st.Pos), st.GTID
		s.File, s.Pos, s.GTIDSet = ss.file, uint32(ss.readPos), ss.last.GTID
	})
	return nil
}

// checkRetention reports in Status whether the binlog file the saved
// position needs is the oldest the server keeps, with newer ones after
// it: the next purge (binlog_expire_logs_seconds, or an operator's PURGE
// BINARY LOGS) would remove changes syncd has not made durable yet.
func (ss *session) checkRetention(ctx context.Context, saved string) {
	files, err := binlogFiles(ctx, ss.db)
	if err != nil || len(files) == 0 {
		ss.src.log.Debug("could not list binlog files", "error", err)
		return
	}
	risk := ""
	if len(files) > 1 && files[0] == saved {
		risk = fmt.Sprintf("source %s resumes from %s, the oldest of the %d binlog files the server keeps: the next purge would lose changes syncd still needs", ss.src.cfg.Name, saved, len(files))
	}
	ss.src.setStatus(func(s *Status) { s.OldestBinlog, s.RetentionRisk = files[0], risk })
}

// stop is the orderly end of a session: drain the sink, save the final
// durable position, and return the context's error.
func (ss *session) stop(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ss.src.cfg.DrainTimeout)
	defer cancel()
	if err := ss.sink.Drain(dctx); err != nil {
		ss.src.log.Warn("stopping without draining every publish", "error", err)
	}
	if err := ss.maybeSave(dctx, true); err != nil {
		ss.src.log.Warn("could not save the final position", "error", err)
	} else {
		ss.src.log.Info("stopped", "read", ss.readPos, "last_commit", ss.last.String())
	}
	return ctx.Err()
}
