// Package postgres writes scope streams into a PostgreSQL target: it
// creates or checks the target tables, applies row changes in batched
// statements inside one transaction per apply.Tx, and keeps each scope's
// checkpoint in the target's scope_info table, written in that same
// transaction.
package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
)

// Config is what one PostgreSQL target needs.
type Config struct {
	Name string // the target's name in the syncd config
	DSN  string
	// ScopeInfoTable names the checkpoint table, "table" or
	// "schema.table"; default "syncd_scope_info".
	ScopeInfoTable string
	// CreateTables lets Prepare create missing target tables from the
	// published column schema.
	CreateTables bool
	// SyncdVersion is recorded in scope_info rows whose Record has none.
	SyncdVersion string
	// ReadOnly makes every transaction read-only
	// (default_transaction_read_only), for syncd plan, which only reads.
	ReadOnly bool
	// Origin, if set, is the replication origin every session marks its
	// transactions with (capture.SyncdOrigin), created if missing, so
	// that a capture of this database knows syncd applied them
	// (origin.go).
	Origin string
}

// Options are a Target's optional dependencies.
type Options = apply.TargetOptions

// Target writes to one PostgreSQL database over a single connection,
// opened on first use and opened again after it breaks.
//
// A Target is not safe for concurrent use: it belongs to the one worker
// goroutine of a (scope, target) pair. At most one Tx is open at a time,
// and Prepare, Checkpoint and Begin fail while one is.
type Target struct {
	cfg       Config
	connCfg   *pgx.ConnConfig
	log       hclog.Logger
	scopeInfo pgx.Identifier
	sql       scopeInfoSQL

	conn *pgx.Conn
	// stamped: conn's session has an origin commit time set (originStamp).
	stamped bool
	tables  plan.Tables[*table] // prepared tables by target name
	// filling: the tables that committed transactions emptied and since
	// wrote only by the COPY of a copy's rows (tx.isFilling).
	filling map[*table]bool
	open    *tx // the open transaction, if any
}

var _ apply.Target = (*Target)(nil)

// New checks cfg and returns a Target. It opens no connection: a DSN that
// does not parse fails here, an unreachable server at first use.
func New(cfg Config, o Options) (*Target, error) {
	cc, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("parse dsn of target %s: %w", cfg.Name, err)
	}
	// Timestamps without time zone arrive as written at the source and
	// must be stored as given; instants are compared in UTC.
	cc.RuntimeParams["TimeZone"] = "UTC"
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "syncd"
	}
	if cfg.ReadOnly {
		cc.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if cfg.ScopeInfoTable == "" {
		cfg.ScopeInfoTable = apply.DefaultScopeInfoTable
	}
	name := splitName(cfg.ScopeInfoTable)
	return &Target{
		cfg:       cfg,
		connCfg:   cc,
		log:       o.Log("postgres"),
		scopeInfo: name,
		sql:       newScopeInfoSQL(name),
		tables:    make(plan.Tables[*table]),
		filling:   make(map[*table]bool),
	}, nil
}

// splitName turns "schema.table" or "table" into an identifier.
func splitName(name string) pgx.Identifier {
	if schema, table, ok := strings.Cut(name, "."); ok {
		return pgx.Identifier{schema, table}
	}
	return pgx.Identifier{name}
}

// connect fails while a transaction is open (idle). Else it returns the
// connection, opening it if there is none or the last one broke. Its
// errors are retryable.
func (t *Target) connect(ctx context.Context) (*pgx.Conn, error) {
	if err := t.idle(); err != nil {
		return nil, err
	}
	if t.conn != nil && !t.conn.IsClosed() {
		return t.conn, nil
	}
	t.conn = nil
	conn, err := pgx.ConnectConfig(ctx, t.connCfg)
	if err != nil {
		return nil, fmt.Errorf("connect to target %s: %w", t.cfg.Name, err)
	}
	if err := setupOrigin(ctx, conn, t.cfg.Origin); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("target %s: %w", t.cfg.Name, err)
	}
	t.conn, t.stamped = conn, false
	return conn, nil
}

// idle fails while a transaction is open: the connection is in use.
func (t *Target) idle() error {
	if t.open != nil {
		return fmt.Errorf("target %s: a transaction is open", t.cfg.Name)
	}
	return nil
}

// Begin implements apply.Target. It connects if needed, so an unreachable
// server fails here; the transaction itself starts on the server with the
// first statements it sends.
func (t *Target) Begin(ctx context.Context, isolate bool) (apply.Tx, error) {
	conn, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	x := newTx(t, conn, isolate)
	t.open = x
	return x, nil
}

// Close implements apply.Target: it closes the connection, which rolls
// back an open transaction.
func (t *Target) Close() {
	if t.open != nil {
		t.open.end()
	}
	t.closeConn()
}

// closeConn closes the connection, if any: at Close, or when its state
// is unknown.
func (t *Target) closeConn() {
	if t.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.conn.Close(ctx)
	t.conn = nil
}
