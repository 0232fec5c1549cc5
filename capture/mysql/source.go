// Package mysql captures changes from a MySQL or MariaDB binary log in
// row format: it checks the server's settings, reads the binlog as a
// replica would, decodes row events with the row metadata the server logs
// with them, and saves in a Store only positions the sink reports durable.
package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// Config is what one MySQL or MariaDB source needs.
type Config struct {
	Name string // the source's name in the syncd config
	// DSN is a go-sql-driver/mysql DSN, e.g. root@tcp(127.0.0.1:3306)/shop.
	DSN string
	// ServerID is the server id syncd's binlog reader registers with. It
	// must differ from the server's and every other replica's.
	ServerID uint32
	// Tables are the tables to publish: the union of the source's scopes.
	Tables []capture.TableSpec
	// OriginTables are the scope_info tables of the targets that are this
	// same database, by the target's name. A transaction whose first row
	// change is to one of them is one syncd applied (apply/mysql marks
	// them so): its Txn.Origin names the scope_info row's source and
	// scope and the target (capture.SyncdOrigin).
	OriginTables map[capture.TableID]string
	// Store keeps the read position between runs.
	Store capture.Store
	// Resnapshot lets the source start afresh from new snapshots when the
	// server has purged the binlog its saved position needs: the sink's
	// Resnapshot decides, and the tables are copied again. Without it, a
	// purged position is a terminal problem. The daemon sets it when every
	// scope on the source has snapshot = "when_needed".
	Resnapshot bool
	// SignalTable is the table, "table" in the DSN's database or
	// "database.table", where chunked backfills write their watermarks;
	// default syncd_signal. Provisioning creates it if missing.
	SignalTable string
	// ChunkRows is how many rows a backfill chunk reads; default 10,000.
	ChunkRows int
	// Parallelism is how many connections read a backfill chunk at once,
	// each a part of its key range (capture.SplitChunk); default
	// capture.DefaultParallelism(). 1 reads each chunk with one query.
	Parallelism int
	// MinRangeRows is the fewest rows of a part of a chunk read in
	// parallel; default capture.MinRangeRows.
	MinRangeRows int

	SaveInterval time.Duration // how often to save the durable position; default 1s
	// RetentionCheck is how often to check that the server still keeps
	// binlog files after the one the saved position needs; default 30s.
	RetentionCheck time.Duration
	DrainTimeout   time.Duration // how long a stop waits for in-flight publishes; default 30s
	IdleFlush      time.Duration // flush the sink after this long without data; default 2ms
}

// Options are a Source's optional dependencies.
type Options struct {
	Logger  hclog.Logger
	Metrics *Metrics
}

// Source reads one server's binlog for the tables of one database.
type Source struct {
	cfg     Config
	dsn     *mysql.Config
	log     hclog.Logger
	metrics *Metrics

	mu     sync.Mutex
	status Status
}

var _ capture.Source = (*Source)(nil)

// Status is what a Source reports for health and /scopes.
type Status struct {
	Connected bool   `json:"connected"`
	Flavor    string `json:"flavor,omitempty"`
	// File and Pos are the binlog coordinates of the last event read.
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
	// Saved is the position last saved in the store, the resume point.
	Saved     string `json:"saved"`
	SavedGTID string `json:"saved_gtid_set,omitempty"`
	// GTIDSet is the GTID state through the last transaction read.
	GTIDSet string `json:"gtid_set,omitempty"`
	// OldestBinlog is the oldest binlog file the server keeps, and
	// RetentionRisk says why the saved position is at risk of being
	// purged, if it is (checked every RetentionCheck).
	OldestBinlog  string `json:"oldest_binlog,omitempty"`
	RetentionRisk string `json:"retention_risk,omitempty"`
	// PreparedXA counts the XA transactions prepared and not yet
	// committed or rolled back: the saved position stays before the
	// earliest of them.
	PreparedXA int `json:"prepared_xa,omitempty"`
	// LastDDL is the last schema change read from the binlog.
	LastDDL *DDL `json:"last_ddl,omitempty"`
	// SnapshotsPending counts the tables still to snapshot this session;
	// Snapshot is the one being copied.
	SnapshotsPending int                       `json:"snapshots_pending"`
	Snapshot         *capture.SnapshotProgress `json:"snapshot,omitempty"`
	Error            string                    `json:"error,omitempty"`
}

// New checks cfg and returns a Source. It opens no connection.
func New(cfg Config, o Options) (*Source, error) {
	dsn, err := mysql.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, retry.Terminal(fmt.Errorf("parse dsn of source %s: %w", cfg.Name, err))
	}
	if dsn.DBName == "" {
		return nil, retry.Terminal(fmt.Errorf("dsn of source %s names no database: add it after the slash, e.g. user@tcp(host:3306)/shop", cfg.Name))
	}
	if dsn.Net != "tcp" {
		return nil, retry.Terminal(fmt.Errorf("dsn of source %s uses %q: binlog replication needs tcp(host:port)", cfg.Name, dsn.Net))
	}
	if cfg.Store == nil {
		return nil, retry.Terminal(fmt.Errorf("source %s has no position store", cfg.Name))
	}
	if cfg.RetentionCheck <= 0 {
		cfg.RetentionCheck = 30 * time.Second
	}
	if cfg.SaveInterval <= 0 {
		cfg.SaveInterval = time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.SignalTable == "" {
		cfg.SignalTable = defaultSignalTable
	}
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = defaultChunkRows
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = capture.DefaultParallelism()
	}
	if cfg.MinRangeRows <= 0 {
		cfg.MinRangeRows = capture.MinRangeRows
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
		dsn:     dsn,
		log:     o.Logger.With("source", cfg.Name, "server_id", cfg.ServerID),
		metrics: o.Metrics,
	}, nil
}

// Database returns the name of the database the source reads.
func (s *Source) Database() string { return s.dsn.DBName }

// Status returns the source's current state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	if st.Snapshot != nil {
		p := *st.Snapshot
		st.Snapshot = &p
	}
	return st
}

func (s *Source) setStatus(f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.status)
}

// Prepare checks the server's binlog settings, the reader's server id and
// privileges, the tables, and that the saved position is still on the
// server. Problems are reported together, each marked retry.Terminal.
func (s *Source) Prepare(ctx context.Context) error {
	db, err := s.openDB(nil)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = s.provision(ctx, db, true)
	return err
}

// Run implements capture.Source. It checks the server and the tables,
// then reads the binlog from the saved position (or, with none, from the
// first pending snapshot, or from the binlog's current end).
func (s *Source) Run(ctx context.Context, sink capture.Sink) (err error) {
	defer func() {
		s.setStatus(func(st *Status) {
			st.Connected = false
			if err != nil && ctx.Err() == nil {
				st.Error = err.Error()
			}
		})
	}()
	db, err := s.openDB(nil)
	if err != nil {
		return err
	}
	defer db.Close()
	srv, err := s.provision(ctx, db, false)
	if err != nil {
		return err
	}
	if srv.lost != nil {
		if err := s.resnapshot(ctx, srv, sink); err != nil {
			return err
		}
	}
	if err := s.writeSwitches(ctx, db, srv, sink); err != nil {
		return err
	}
	ss, err := s.newSession(ctx, db, srv, sink)
	if err != nil {
		return err
	}
	return ss.run(ctx)
}

// resnapshot deals with a saved position whose binlog is purged (only
// reported so with Config.Resnapshot): if the sink lets every snapshot be
// taken again, the session starts from the snapshots instead of the saved
// position; otherwise the purge is a terminal error.
func (s *Source) resnapshot(ctx context.Context, srv *server, sink capture.Sink) error {
	if err := capture.SnapshotAgain(ctx, sink, srv.lost); err != nil {
		return err
	}
	s.log.Warn("the binlog the saved position needs is purged: taking the scopes' snapshots again", "error", srv.lost)
	srv.lostFrom, srv.saved = srv.saved, nil
	return nil
}

// openDB opens a pool on the source's DSN; params adds session variables.
func (s *Source) openDB(params map[string]string) (*sql.DB, error) {
	c := s.dsn.Clone()
	c.ParseTime = false
	c.InterpolateParams = true
	c.Collation = "utf8mb4_general_ci"
	if len(params) > 0 {
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		for k, v := range params {
			c.Params[k] = v
		}
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, retry.Terminal(fmt.Errorf("parse dsn of source %s: %w", s.cfg.Name, err))
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	return db, nil
}

// hostPort splits the DSN's address for the binlog reader.
func (s *Source) hostPort() (string, uint16, error) {
	host, port, err := net.SplitHostPort(s.dsn.Addr)
	if err != nil {
		host, port = s.dsn.Addr, "3306"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, retry.Terminal(fmt.Errorf("dsn of source %s: bad port %q", s.cfg.Name, port))
	}
	return host, uint16(p), nil
}

// quoteIdent quotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func quoteTable(id capture.TableID) string { return quoteIdent(id.Schema) + "." + quoteIdent(id.Name) }

// quoteString quotes a MySQL string literal, for statements that take no
// placeholders (SHOW BINLOG EVENTS IN '...').
func quoteString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `''`)
	return "'" + r.Replace(s) + "'"
}

// mysqlError is the driver's server error.
type mysqlError = mysql.MySQLError
