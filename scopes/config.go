// Package scopes holds syncd's configuration: the HCL config model, its
// loading and validation with file:line:col diagnostics, templates and
// their params, the index from source tables to the scopes that cover them,
// and scope definition hashing. The row-filter language is in
// scopes/filter.
//
// A scope is a named, filtered selection of one source's tables, published
// on its own JetStream stream and applied to its targets.
package scopes

import (
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes/filter"
	"github.com/syncd-dev/syncd/scopes/mapping"
)

// Engine kinds, the first label of source and target blocks.
const (
	KindPostgres  = "postgres"
	KindMySQL     = "mysql"
	KindSQLServer = "sqlserver"
)

// Snapshot modes of a scope.
const (
	// SnapshotInitial copies the rows already in the source tables before
	// streaming changes.
	SnapshotInitial = "initial"
	// SnapshotNever streams changes only.
	SnapshotNever = "never"
	// SnapshotWhenNeeded is SnapshotInitial, and also copies the tables
	// again when the source's log no longer holds the changes syncd must
	// resume from (a purged binlog). A source retakes its snapshots only
	// if every scope on it allows this; otherwise it stops with an error.
	SnapshotWhenNeeded = "when_needed"
)

// What a target does with a table that leaves the config (Target.RemovedTables).
const (
	// RemovedKeep keeps the target table and its rows, as PostgreSQL
	// subscriptions do.
	RemovedKeep = "keep"
	// RemovedEmpty deletes the target table's rows, once.
	RemovedEmpty = "empty"
)

// What an apply worker does with a row it cannot apply, after retries.
const (
	// OnApplyErrorStop stops the scope's worker for that target.
	OnApplyErrorStop = "stop"
	// OnApplyErrorDLQ parks the row on syncd.<scope>._dlq and goes on.
	OnApplyErrorDLQ = "dlq"

	// MaxRowsPerMessage bounds a scope's rows_per_message.
	MaxRowsPerMessage = 1000
	// MaxSnapshotParallelism bounds a source's snapshot_parallelism.
	MaxSnapshotParallelism = 64
)

// Defaults of optional settings.
const (
	DefaultDataDir         = "/var/lib/syncd"
	DefaultNATSListen      = "127.0.0.1:4222"
	DefaultAdminListen     = "127.0.0.1:7070"
	DefaultStreamReplicas  = 1
	DefaultStreamMaxAge    = 168 * time.Hour
	DefaultDuplicateWindow = time.Second
	DefaultPollInterval    = time.Second
	DefaultScopeInfoTable  = "syncd_scope_info"
)

// Config is a loaded and validated configuration. Load fills in every
// default, so zero values mean what the field's comment says.
type Config struct {
	NATS NATS
	// DataDir is where syncd keeps its state (the embedded JetStream store),
	// an absolute path.
	DataDir string
	// DataDirRange is the data_dir attribute's range; zero when unset.
	DataDirRange hcl.Range
	Admin        Admin
	Sources      []*Source   // in declaration order
	Targets      []*Target   // in declaration order
	Scopes       []*Scope    // in declaration order
	Templates    []*Template // in declaration order
}

// Source returns the source named name, or nil.
func (c *Config) Source(name string) *Source {
	for _, s := range c.Sources {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Target returns the target named name, or nil.
func (c *Config) Target(name string) *Target {
	for _, t := range c.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Scope returns the scope named name, or nil.
func (c *Config) Scope(name string) *Scope {
	for _, s := range c.Scopes {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// NATS is the nats block: where JetStream runs and how streams are made.
type NATS struct {
	// URL lists the servers of an external NATS system, comma-separated.
	// Empty means syncd runs an embedded JetStream server under DataDir.
	URL string
	// Listen is the client address of the embedded server; unused with URL.
	Listen string
	// Creds is the content (not the path) of a NATS credentials file, a
	// user JWT and its nkey seed; use file("...") to read one.
	Creds string
	// User and Password authenticate with a user name instead of Creds.
	User, Password string
	// TLS holds the TLS files for NATS connections; nil without a tls block.
	TLS *TLS
	// StreamReplicas is the replica count of each scope stream (1 to 5).
	StreamReplicas int
	// StreamMaxAge is how long a stream keeps messages; 0 means forever.
	StreamMaxAge time.Duration
	// StreamMaxBytes caps a stream's size; 0 means no limit.
	StreamMaxBytes int64
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Id values
	// (at least 100ms). JetStream keeps every id of the window in memory,
	// so memory grows with publish rate × window; syncd does not need the
	// window to avoid duplicates (it resumes from what each stream holds),
	// so the default is short.
	DuplicateWindow time.Duration
	// DeclRange is the block header's range; zero without a nats block.
	DeclRange hcl.Range
}

// TLS names PEM files, as absolute paths (relative paths in the config are
// resolved against the config's directory). Empty means not set.
type TLS struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Admin is the admin block: the HTTP server for health, metrics and status.
type Admin struct {
	Listen string // host:port
	// Token is the content of token_file, without surrounding white space:
	// the bearer token every endpoint but /healthz and /readyz requires.
	// Empty means no token; Load refuses that unless Listen is a loopback
	// address.
	Token string
	// Pprof serves Go's profiler under /debug/pprof/.
	Pprof bool
	// DeclRange is the block header's range; zero without an admin block.
	DeclRange hcl.Range
}

// Source is a source block: one database whose change log syncd reads.
type Source struct {
	Kind string // KindPostgres, KindMySQL or KindSQLServer
	Name string
	DSN  string
	// Slot and Publication are the PostgreSQL replication slot and
	// publication; both default to syncd_<name> with '-' replaced by '_'.
	Slot, Publication string
	// ServerID is the MySQL replica server id syncd reads the binlog as.
	ServerID uint32
	// SignalTable is the MySQL table backfills write their watermarks
	// into, "table" or "database.table"; empty for the default.
	SignalTable string
	// PollInterval is how often SQL Server change tracking is polled.
	PollInterval time.Duration
	// SnapshotParallelism is how many connections of a PostgreSQL or
	// MySQL source read each chunk of a snapshot at once; 0 for the
	// engine's default.
	SnapshotParallelism int
	// DeclRange is the block header's range in the config.
	DeclRange hcl.Range
}

// Target is a target block: one database that scopes are applied to.
type Target struct {
	Kind string // KindPostgres, KindMySQL or KindSQLServer
	Name string
	DSN  string
	// ScopeInfoTable is the table holding one checkpoint row per scope and
	// source applied to the target.
	ScopeInfoTable string
	// CreateTables makes apply workers create missing target tables from
	// the source schema.
	CreateTables bool
	// RemovedTables says what the target does with a target table whose
	// scope table leaves the config (the table removed from its scope, or
	// the whole scope removed): RemovedKeep (the default) keeps the table
	// and its rows, which no longer change; RemovedEmpty deletes its rows,
	// once, in the target transaction that records the scope's new
	// definition in scope_info (docs/configuration.md, "Removing tables
	// and scopes"). A target table that another configured scope still
	// writes at this target is kept either way.
	RemovedTables string
	// SameAs names the source block that captures this same database, if
	// any: syncd then never applies to the target a change that came from
	// it (two-way sync, docs/configuration.md). SameAsRange is the
	// attribute's value range; zero when unset.
	SameAs      string
	SameAsRange hcl.Range
	DeclRange   hcl.Range
}

// Scope is a scope block, with its template (if any) already instantiated.
type Scope struct {
	Name    string
	Source  string   // a Config.Sources name
	Targets []string // Config.Targets names, in declaration order; may be empty
	// Snapshot is SnapshotInitial, SnapshotWhenNeeded or SnapshotNever.
	Snapshot string
	// OnApplyError is OnApplyErrorStop or OnApplyErrorDLQ.
	OnApplyError string
	// RowsPerMessage is the most row changes one message carries, 1 to
	// MaxRowsPerMessage. With 1 (the default) each message is one envelope;
	// with more, each is a JSON array of envelopes: consecutive changes of
	// one source transaction with the same table, op and reason.
	RowsPerMessage int
	// Template is the name of the template the scope's tables come from,
	// or empty; Params are the values its params were bound to.
	Template string
	Params   map[string]filter.Value
	// DependsOn names the scopes whose initial snapshots must be applied
	// at a target before this scope applies anything there, in
	// declaration order. Each shares a target with the scope, and the
	// dependencies form no cycle. It orders what lands and is not part of
	// the scope's Definition.
	DependsOn []string
	// Conflicts is how the scope's two-way apply workers resolve
	// conflicts; Policy "" if the scope sets none (conflicts.go).
	Conflicts Conflicts
	// Seed, for a two-way scope with a snapshot, is which rows win where
	// both databases hold a row of a key with other values at the first
	// start: a source's name (that database's rows), or SeedMerge (the
	// conflict policy's choice); "" for none (seed.go).
	Seed      string
	SeedRange hcl.Range
	// Tables are the scope's tables in declaration order, at least one.
	Tables    []*Table
	DeclRange hcl.Range
}

// Table is one source table of a scope or template.
type Table struct {
	// Scope is the scope the table belongs to; nil in a Template.
	Scope *Scope
	// ID is the source table.
	ID capture.TableID
	// Columns are the columns published, in order; nil means all.
	Columns []string
	// Where selects the rows published; nil means all. In a scope it has
	// no params left; in a template it may have some.
	Where *filter.Filter
	// Mapping maps the source rows to the target's columns; nil publishes
	// the source columns as they are. A table has Columns or a Mapping,
	// not both.
	Mapping *mapping.Spec
	// Target is the table the rows are applied to; it defaults to ID.
	Target capture.TableID
	// Conflicts overrides the scope's conflict policy for the table;
	// Policy "" if it does not.
	Conflicts Conflicts
	DeclRange hcl.Range
}

// Template is a template block: tables shared by scopes that differ only
// in the values of params used in the tables' where filters.
type Template struct {
	Name      string
	Params    []string // param names, in declaration order
	Tables    []*Table // Scope is nil; Where may use Params
	DeclRange hcl.Range
}
