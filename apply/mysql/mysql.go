// Package mysql writes scope streams into a MySQL or MariaDB target: it
// creates or checks the target tables, applies row changes in batched
// multi-row statements inside one transaction per apply.Tx, and keeps each
// scope's checkpoint in the target's scope_info table, written in that
// same transaction.
//
// Names map as DESIGN.md says: a scope table's target schema is the MySQL
// database, its name the table; an empty schema means the DSN's database.
package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/apply/sqltx"
)

// Config is what one MySQL or MariaDB target needs.
type Config struct {
	Name string // the target's name in the syncd config
	// DSN is a go-sql-driver/mysql DSN
	// ("user:pass@tcp(host:3306)/db?param=value"). The session settings
	// syncd needs (see sessionParams) override the DSN's.
	DSN string
	// ScopeInfoTable names the checkpoint table, "table" (in the DSN's
	// database) or "db.table"; default "syncd_scope_info".
	ScopeInfoTable string
	// CreateTables lets Prepare create missing target databases and
	// tables from the published column schema (docs/type-mapping.md).
	CreateTables bool
	// SyncdVersion is recorded in scope_info rows whose Record has none.
	SyncdVersion string
	// ReadOnly makes the session's transactions read-only (SET SESSION
	// TRANSACTION READ ONLY on its one connection), for syncd plan, which
	// only reads.
	ReadOnly bool
	// Origin, if set, is the origin (capture.SyncdOrigin) every
	// transaction is marked with: its first row change is to the
	// scope's scope_info row (origin.go).
	Origin string
}

// Options are a Target's optional dependencies.
type Options = apply.TargetOptions

// Target writes to one MySQL or MariaDB server over a single connection
// (a database/sql pool of one), opened on first use and opened again after
// it breaks.
//
// A Target is not safe for concurrent use: it belongs to the one worker
// goroutine of a (scope, target) pair. At most one Tx is open at a time,
// and Prepare, Checkpoint and Begin fail while one is.
type Target struct {
	cfg       Config
	driverCfg *mysql.Config
	log       hclog.Logger
	scopeInfo tableName

	pool   sqltx.Conn
	server *server // nil until the first connection
	sql    scopeInfoSQL
	tables plan.Tables[*table] // prepared tables by target name

	// groupRows is the most rows one statement writes (maxGroupRows;
	// benchmarks vary it).
	groupRows int
}

var _ apply.Target = (*Target)(nil)

// New checks cfg and returns a Target. It opens no connection: a DSN that
// does not parse fails here, an unreachable server at first use.
func New(cfg Config, o Options) (*Target, error) {
	dc, err := mysql.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("parse dsn of target %s: %w", cfg.Name, err)
	}
	if cfg.ScopeInfoTable == "" {
		cfg.ScopeInfoTable = apply.DefaultScopeInfoTable
	}
	name := splitName(cfg.ScopeInfoTable, dc.DBName)
	if name.db == "" {
		return nil, fmt.Errorf("target %s: scope_info_table %q names no database and the DSN selects none; write it as db.table", cfg.Name, cfg.ScopeInfoTable)
	}
	if err := session(dc); err != nil {
		return nil, fmt.Errorf("configure target %s: %w", cfg.Name, err)
	}
	t := &Target{
		cfg:       cfg,
		driverCfg: dc,
		log:       o.Log("mysql"),
		scopeInfo: name,
		tables:    make(plan.Tables[*table]),
		groupRows: maxGroupRows,
	}
	t.pool = sqltx.NewConn(cfg.Name, t.dial)
	return t, nil
}

// sessionSQLMode makes bad values errors instead of silent truncations
// (STRICT_ALL_TABLES: for non-transactional tables too), keeps an explicit
// 0 in an AUTO_INCREMENT column (NO_AUTO_VALUE_ON_ZERO), and leaves out
// NO_ZERO_DATE and NO_ZERO_IN_DATE so that MySQL sources' zero dates are
// kept as they are. Foreign key checks stay on: a row that violates one is
// rejected like any other constraint violation.
const sessionSQLMode = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO"

// session sets the driver options and session variables every connection
// of a Target gets, whatever the DSN says:
//
//   - utf8mb4 (SET NAMES utf8mb4), session time zone UTC, sessionSQLMode;
//   - parseTime with UTC, so DATETIME columns scan into time.Time;
//   - interpolateParams: the driver escapes the values into the statement
//     text itself (it is a correct escaper for utf8mb4, and knows
//     NO_BACKSLASH_ESCAPES), so a multi-row statement costs one round
//     trip instead of prepare + execute + close; see statements.go for
//     the measurements;
//   - no multiStatements: each statement's error is its own.
func session(c *mysql.Config) error {
	if err := c.Apply(mysql.Charset("utf8mb4", "")); err != nil {
		return err
	}
	c.Collation = ""
	c.ParseTime = true
	c.Loc = time.UTC
	c.InterpolateParams = true
	c.MultiStatements = false
	// Updates report the rows they matched, not only those they changed:
	// an update that must find its row (plan.Update) checks the count.
	c.ClientFoundRows = true
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	for k := range c.Params {
		switch strings.ToLower(k) {
		case "time_zone", "sql_mode", "foreign_key_checks", "autocommit":
			delete(c.Params, k)
		}
	}
	c.Params["time_zone"] = "'+00:00'"
	c.Params["sql_mode"] = "'" + sessionSQLMode + "'"
	return nil
}

// connect fails while a transaction is open. Else it returns the
// connection pool, opening it if there is none (dial), and learns the
// server's kind on first use. Its errors are retryable.
func (t *Target) connect(ctx context.Context) (*sql.DB, error) {
	db, err := t.pool.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if t.server == nil {
		var version string
		if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
			return nil, fmt.Errorf("connect to target %s: %w", t.cfg.Name, err)
		}
		t.server = parseServer(version)
		t.sql = newScopeInfoSQL(t.scopeInfo, t.server)
		t.log.Debug("connected", "version", version)
	}
	return db, nil
}

// dial opens a pool of one connection to the server.
func (t *Target) dial(ctx context.Context) (*sql.DB, error) {
	conn, err := mysql.NewConnector(t.driverCfg)
	if err != nil {
		return nil, fmt.Errorf("connect to target %s: %w", t.cfg.Name, err)
	}
	db := sqltx.Pool(conn)
	if t.cfg.ReadOnly {
		if _, err := db.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY"); err != nil {
			db.Close()
			return nil, fmt.Errorf("connect to target %s: %w", t.cfg.Name, err)
		}
	}
	return db, nil
}

// Begin implements apply.Target: it starts a transaction on the server,
// connecting first if needed, so an unreachable server fails here. The
// transaction is rolled back if ctx is canceled before Commit.
func (t *Target) Begin(ctx context.Context, isolate bool) (apply.Tx, error) {
	if _, err := t.connect(ctx); err != nil {
		return nil, err
	}
	var stx *sql.Tx
	x, err := t.pool.Begin(ctx, func(s *sql.Tx) apply.Tx {
		stx = s
		return newTx(t, s, isolate)
	})
	if err != nil {
		return nil, err
	}
	if err := t.mark(ctx, stx); err != nil {
		x.Rollback(ctx)
		return nil, err
	}
	return x, nil
}

// Close implements apply.Target: it rolls back an open transaction and
// closes the connection.
func (t *Target) Close() { t.pool.Close() }
