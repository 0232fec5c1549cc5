// Package sqlserver writes scope streams into a Microsoft SQL Server
// target, as a plan.Dialect of apply/plan over database/sql and
// github.com/microsoft/go-mssqldb: it creates or checks the target
// tables, applies row changes in batched statements inside one
// transaction per apply.Tx, and keeps each scope's checkpoint in the
// target's scope_info table, written in that same transaction.
//
// Status: the statements this package builds are checked by golden tests
// only (layer 1 of issue 19), its connect and error classification also
// over a TDS wire fake (tds_test.go); it has NOT been run against a real
// SQL Server (realserver_test.go runs the shared target tests when
// SYNCD_TEST_MSSQL_DSN is set: make test-sqlserver). cmd/syncd builds it
// for target "sqlserver".
//
// Names map as DESIGN.md says: a scope table's target schema is the SQL
// Server schema, its name the table; an empty schema means the login's
// default schema (OBJECT_ID resolves the unqualified name). Every
// identifier is bracket-quoted, a ] doubled (quote); every value is a
// parameter (@p1, @p2, … in the order of the arguments, as go-mssqldb
// numbers them).
package sqlserver

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hashicorp/go-hclog"
	mssql "github.com/microsoft/go-mssqldb"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
	capsql "github.com/syncd-dev/syncd/capture/sqlserver"
)

// Config is what one SQL Server target needs.
type Config struct {
	Name string // the target's name in the syncd config
	// DSN is a go-mssqldb connection string
	// ("sqlserver://user:pass@host:1433?database=db").
	DSN string
	// ScopeInfoTable names the checkpoint table, "table" (in the login's
	// default schema) or "schema.table"; default "syncd_scope_info".
	ScopeInfoTable string
	// CreateTables lets Prepare create missing target tables from the
	// published column schema (docs/type-mapping.md).
	CreateTables bool
	// SyncdVersion is recorded in scope_info rows whose Record has none.
	SyncdVersion string
	// Origin, if set, is the origin (capture.SyncdOrigin) every row
	// change the target writes is tagged with, as its change tracking
	// context (origin.go); at most 128 bytes.
	Origin string
}

// Options are a Target's optional dependencies.
type Options = apply.TargetOptions

// Target writes to one SQL Server over a single connection (a
// database/sql pool of one), opened on first use and opened again after
// it breaks.
//
// A Target is not safe for concurrent use: it belongs to the one worker
// goroutine of a (scope, target) pair. At most one Tx is open at a time,
// and Prepare, Checkpoint and Begin fail while one is.
type Target struct {
	cfg       Config
	connector *mssql.Connector
	log       hclog.Logger
	scopeInfo tableName
	sql       scopeInfoSQL
	// tag is the WITH CHANGE_TRACKING_CONTEXT prefix of the statements
	// that write rows (contextClause), "" without an origin.
	tag string

	pool   sqltx.Conn
	tables plan.Tables[*table] // prepared tables by target name

	// groupRows is the most rows one statement writes (maxGroupRows).
	groupRows int
}

var _ apply.Target = (*Target)(nil)

// New checks cfg and returns a Target. It opens no connection: a DSN that
// does not parse fails here, an unreachable server at first use.
func New(cfg Config, o Options) (*Target, error) {
	conn, err := mssql.NewConnector(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("parse dsn of target %s: %w", cfg.Name, err)
	}
	if cfg.ScopeInfoTable == "" {
		cfg.ScopeInfoTable = apply.DefaultScopeInfoTable
	}
	name, err := parseName(cfg.ScopeInfoTable)
	if err != nil {
		return nil, fmt.Errorf("target %s: scope_info_table: %w", cfg.Name, err)
	}
	tag, err := capsql.ContextClause(cfg.Origin)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", cfg.Name, err)
	}
	t := &Target{
		tag:       tag,
		cfg:       cfg,
		connector: conn,
		log:       o.Log("sqlserver"),
		scopeInfo: name,
		sql:       newScopeInfoSQL(name),
		tables:    make(plan.Tables[*table]),
		groupRows: maxGroupRows,
	}
	t.pool = sqltx.NewConn(cfg.Name, t.dial)
	return t, nil
}

// connect fails while a transaction is open. Else it returns the
// connection pool, opening it if there is none (dial).
func (t *Target) connect(ctx context.Context) (*sql.DB, error) {
	return t.pool.Connect(ctx)
}

// dial opens a pool of one connection to the server. Its errors are
// retryable, but for a login the server refuses (classify).
func (t *Target) dial(ctx context.Context) (*sql.DB, error) {
	db := sqltx.Pool(t.connector)
	var version string
	if err := db.QueryRowContext(ctx, "SELECT @@VERSION").Scan(&version); err != nil {
		db.Close()
		return nil, classifyConnect(fmt.Errorf("connect to target %s: %w", t.cfg.Name, err))
	}
	t.log.Debug("connected", "version", version)
	return db, nil
}

// Begin implements apply.Target: it starts a transaction on the server,
// connecting first if needed, so an unreachable server fails here. The
// transaction is rolled back if ctx is canceled before Commit.
func (t *Target) Begin(ctx context.Context, isolate bool) (apply.Tx, error) {
	return t.pool.Begin(ctx, func(stx *sql.Tx) apply.Tx { return newTx(t, stx, isolate) })
}

// Close implements apply.Target: it rolls back an open transaction and
// closes the connection.
func (t *Target) Close() { t.pool.Close() }
