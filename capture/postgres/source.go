// Package postgres captures changes from PostgreSQL logical replication
// with the pgoutput plugin: it provisions the publication and slot, decodes
// the stream into capture events, and confirms to the server only what the
// sink reports durable.
package postgres

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// Config is what one PostgreSQL source needs.
type Config struct {
	Name        string // the source's name in the syncd config
	DSN         string
	Slot        string
	Publication string
	// Tables are the tables to publish: the union of the source's scopes.
	Tables []capture.TableSpec
	// Store, if set, records the slot syncd created, so that the slot
	// going missing or losing WAL is reported as lost changes instead of
	// a new slot silently skipping them. Unprovision deletes a record
	// that Prepare wrote where there was none if Store also has
	// Delete(ctx, source) error, as router.Positions does.
	Store capture.Store
	// Resnapshot makes a lost slot no terminal problem: the source creates
	// a new one and the sink's Resnapshot decides whether the tables are
	// copied again. The daemon sets it when every scope on the source has
	// snapshot = "when_needed".
	Resnapshot bool

	StatusInterval time.Duration // how often to confirm to the server; default 10s
	DrainTimeout   time.Duration // how long a stop waits for in-flight publishes; default 30s
	IdleFlush      time.Duration // flush the sink after this long without data; default 2ms
	ChunkRows      int           // rows a backfill reads per chunk; default 10,000
	// Parallelism is how many connections read a backfill chunk at once,
	// each a part of its key range (capture.SplitChunk); default
	// capture.DefaultParallelism(). 1 reads each chunk with one query.
	Parallelism int
	// MinRangeRows is the fewest rows of a part of a chunk read in
	// parallel; default capture.MinRangeRows.
	MinRangeRows int
	// MinRangePages is the fewest pages of a part of a one-transaction
	// snapshot (a table without a primary key) read in parallel; default
	// 1024 (8 MB).
	MinRangePages int
}

// Options are a Source's optional dependencies.
type Options struct {
	Logger  hclog.Logger
	Metrics *Metrics
}

// Source reads one database through one replication slot.
type Source struct {
	cfg     Config
	dbName  string
	log     hclog.Logger
	metrics *Metrics

	prepared made // what Prepare created, for Unprovision

	mu     sync.Mutex
	status Status
}

var _ capture.Source = (*Source)(nil)

// Status is what a Source reports for health and /scopes.
type Status struct {
	Connected bool             `json:"connected"`
	Slot      string           `json:"slot"`
	Confirmed capture.Position `json:"confirmed_lsn"`
	// RetainedWALBytes is how much WAL the slot holds back.
	RetainedWALBytes int64 `json:"retained_wal_bytes"`
	// WALStatus is pg_replication_slots.wal_status: reserved, extended,
	// unreserved (at risk of removal) or lost.
	WALStatus string `json:"wal_status"`
	// SnapshotsPending counts the tables still to snapshot this session;
	// Snapshot is the one being copied.
	SnapshotsPending int                       `json:"snapshots_pending"`
	Snapshot         *capture.SnapshotProgress `json:"snapshot,omitempty"`
	Error            string                    `json:"error,omitempty"`
}

// New checks cfg and returns a Source. It opens no connection.
func New(cfg Config, o Options) (*Source, error) {
	pc, err := pgconn.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, retry.Terminal(fmt.Errorf("parse dsn of source %s: %w", cfg.Name, err))
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 10 * time.Second
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = capture.DefaultParallelism()
	}
	if cfg.MinRangeRows <= 0 {
		cfg.MinRangeRows = capture.MinRangeRows
	}
	if cfg.MinRangePages <= 0 {
		cfg.MinRangePages = defaultMinRangePages
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.IdleFlush <= 0 {
		cfg.IdleFlush = 2 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil, cfg.Name)
	}
	return &Source{
		cfg:     cfg,
		dbName:  pc.Database,
		log:     o.Logger.With("slot", cfg.Slot),
		metrics: o.Metrics,
		status:  Status{Slot: cfg.Slot},
	}, nil
}

// Database returns the name of the database the source reads.
func (s *Source) Database() string { return s.dbName }

// Status returns the source's current state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *Source) setStatus(f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.status)
}

// Prepare checks the server, the role and the tables, and creates the
// publication and the slot if they are missing. Its errors for bad
// settings or tables are marked retry.Terminal. It notes what it
// created, for Unprovision.
func (s *Source) Prepare(ctx context.Context) error {
	cat, err := s.connectCatalog(ctx)
	if err != nil {
		return err
	}
	defer cat.Close(context.WithoutCancel(ctx))
	_, _, err = s.provision(ctx, cat, &s.prepared)
	return err
}

// Unprovision undoes what Prepare created, newest first: it puts the slot
// record in the Store back as it was, then drops the slot and the
// publication if Prepare created them. What existed before Prepare stays
// (a publication Prepare only updated keeps its new tables). It stops at
// the first step that fails, leaving a slot, its publication and its
// record that the next start uses. The daemon calls it when another
// source stops the start, before Run; it must not run concurrently with
// Prepare or Run.
func (s *Source) Unprovision(ctx context.Context) error {
	return s.unprovision(ctx, &s.prepared)
}

// Run implements capture.Source. It provisions the publication and slot,
// then streams from the slot's confirmed position.
func (s *Source) Run(ctx context.Context, sink capture.Sink) (err error) {
	defer func() {
		s.setStatus(func(st *Status) {
			st.Connected = false
			if err != nil && ctx.Err() == nil {
				st.Error = err.Error()
			}
		})
	}()
	cat, err := s.connectCatalog(ctx)
	if err != nil {
		return err
	}
	defer cat.Close(context.WithoutCancel(ctx))
	tables, rec, err := s.provision(ctx, cat, new(made))
	if err != nil {
		return err
	}
	if rec != nil && rec.Lost != "" {
		if err := s.resnapshot(ctx, rec, sink); err != nil {
			return err
		}
	}
	var confirmed pglogrepl.LSN
	if err := cat.QueryRow(ctx, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", s.cfg.Slot).Scan(&confirmed); err != nil {
		return fmt.Errorf("read confirmed position of slot %s: %w", s.cfg.Slot, err)
	}
	conn, err := s.connectReplication(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = pglogrepl.StartReplication(ctx, conn, s.cfg.Slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "messages 'true'", "publication_names " + quoteLiteral(ident(s.cfg.Publication))},
	})
	if err != nil {
		return fmt.Errorf("start replication from slot %s: %w", s.cfg.Slot, err)
	}
	s.log.Info("streaming", "publication", s.cfg.Publication, "from", capture.Position(confirmed))
	s.setStatus(func(st *Status) {
		st.Connected, st.Error = true, ""
		st.Confirmed = capture.Position(confirmed)
	})
	sess := &session{
		src:       s,
		conn:      conn,
		cat:       cat,
		sink:      sink,
		tables:    tables,
		types:     newTypeCache(),
		rels:      make(map[uint32]*relation),
		confirmed: capture.Position(confirmed),
		lastAck:   capture.Position(confirmed),
	}
	if err := s.writeSwitches(ctx, cat, sink); err != nil {
		return err
	}
	if sn, ok := sink.(capture.Snapshotter); ok {
		sess.snapshotter, sess.toSnapshot = sn, sn.Snapshots()
		s.setStatus(func(st *Status) { st.SnapshotsPending = len(sess.toSnapshot) })
	}
	return sess.run(ctx)
}

// sessionParams make the walsender print values in the formats the
// decoders read.
var sessionParams = map[string]string{
	"DateStyle":          "ISO",
	"TimeZone":           "UTC",
	"IntervalStyle":      "iso_8601",
	"bytea_output":       "hex",
	"extra_float_digits": "3",
	"application_name":   "syncd",
}

func (s *Source) connectCatalog(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, retry.Terminal(fmt.Errorf("parse dsn of source %s: %w", s.cfg.Name, err))
	}
	// The snapshot reads values in the formats the stream has.
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to source %s: %w", s.cfg.Name, err)
	}
	return conn, nil
}

func (s *Source) connectReplication(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, retry.Terminal(fmt.Errorf("parse dsn of source %s: %w", s.cfg.Name, err))
	}
	cfg.RuntimeParams["replication"] = "database"
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newGulpConn(c), nil
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open replication connection to source %s: %w", s.cfg.Name, err)
	}
	return conn, nil
}

func quoteLiteral(s string) string {
	b := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b = append(b, '\'')
		}
		b = append(b, s[i])
	}
	return string(append(b, '\''))
}
