package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd-dev/syncd/apply"
	applymysql "github.com/syncd-dev/syncd/apply/mysql"
	applypg "github.com/syncd-dev/syncd/apply/postgres"
	applymssql "github.com/syncd-dev/syncd/apply/sqlserver"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/capture/mysql"
	"github.com/syncd-dev/syncd/capture/postgres"
	"github.com/syncd-dev/syncd/capture/sqlserver"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/mapping"
)

// newEngine builds the capture engine of source s. It opens no database
// connection, only the NATS bucket where sources keep their state (a
// MySQL source its binlog position, a PostgreSQL source its slot record).
func newEngine(ctx context.Context, s *scopes.Source, cfg *scopes.Config, nc *router.Conn, log hclog.Logger, reg prometheus.Registerer) (engine, router.SourceInfo, error) {
	store, err := nc.Positions(ctx, cfg.NATS.StreamReplicas)
	if err != nil {
		return nil, router.SourceInfo{}, err
	}
	// A lost log makes the source copy its tables again only if every
	// scope on it asks for that. (A SQL Server source loses one table's
	// changes at a time: the router, a capture.TableCopier, copies that
	// table again if every scope covering it asks for that.)
	resnapshot := allScopes(cfg, s.Name, func(sc *scopes.Scope) bool { return sc.Snapshot == scopes.SnapshotWhenNeeded })
	switch s.Kind {
	case scopes.KindMySQL:
		origins, err := originTables(cfg, s.Name)
		if err != nil {
			return nil, router.SourceInfo{}, retry.Terminal(err)
		}
		src, err := mysql.New(mysql.Config{
			Name:         s.Name,
			DSN:          s.DSN,
			ServerID:     s.ServerID,
			SignalTable:  s.SignalTable,
			Parallelism:  s.SnapshotParallelism,
			Tables:       tableSpecs(cfg, s.Name, s.Kind),
			OriginTables: origins,
			Store:        store,
			Resnapshot:   resnapshot,
		}, mysql.Options{Logger: log, Metrics: mysql.NewMetrics(reg, s.Name)})
		if err != nil {
			return nil, router.SourceInfo{}, retry.Terminal(err)
		}
		return mysqlEngine{src}, router.SourceInfo{Kind: s.Kind, Name: s.Name, DB: src.Database()}, nil
	case scopes.KindPostgres:
		src, err := postgres.New(postgres.Config{
			Name:        s.Name,
			DSN:         s.DSN,
			Slot:        s.Slot,
			Publication: s.Publication,
			Parallelism: s.SnapshotParallelism,
			Tables:      tableSpecs(cfg, s.Name, s.Kind),
			Store:       store,
			Resnapshot:  resnapshot,
		}, postgres.Options{Logger: log, Metrics: postgres.NewMetrics(reg, s.Name)})
		if err != nil {
			return nil, router.SourceInfo{}, err
		}
		return pgEngine{src}, router.SourceInfo{Kind: s.Kind, Name: s.Name, DB: src.Database()}, nil
	case scopes.KindSQLServer:
		src, err := sqlserver.NewServer(sqlserver.ServerConfig{
			Config: sqlserver.Config{
				Name:         s.Name,
				Store:        store,
				Resnapshot:   resnapshot,
				PollInterval: s.PollInterval,
			},
			DSN:    s.DSN,
			Tables: tableSpecs(cfg, s.Name, s.Kind),
		}, sqlserver.Options{Logger: log})
		if err != nil {
			return nil, router.SourceInfo{}, err
		}
		src.RegisterMetrics(reg)
		return mssqlEngine{src}, router.SourceInfo{Kind: s.Kind, Name: s.Name, DB: src.Database()}, nil
	}
	return nil, router.SourceInfo{}, retry.Terminal(fmt.Errorf("source %q: capture from %s is not supported yet", s.Name, s.Kind))
}

// newTarget builds the writer of target t, which marks the transactions
// it applies with origin (capture.SyncdOrigin). It opens no connection.
func newTarget(t *scopes.Target, origin string, log hclog.Logger) (apply.Target, error) {
	switch t.Kind {
	case scopes.KindPostgres:
		return applypg.New(applypg.Config{
			Name:           t.Name,
			DSN:            t.DSN,
			ScopeInfoTable: t.ScopeInfoTable,
			CreateTables:   t.CreateTables,
			SyncdVersion:   version,
			Origin:         origin,
		}, applypg.Options{Logger: log})
	case scopes.KindMySQL:
		return applymysql.New(applymysql.Config{
			Name:           t.Name,
			DSN:            t.DSN,
			ScopeInfoTable: t.ScopeInfoTable,
			CreateTables:   t.CreateTables,
			SyncdVersion:   version,
			Origin:         origin,
		}, applymysql.Options{Logger: log})
	case scopes.KindSQLServer:
		return applymssql.New(applymssql.Config{
			Name:           t.Name,
			DSN:            t.DSN,
			ScopeInfoTable: t.ScopeInfoTable,
			CreateTables:   t.CreateTables,
			SyncdVersion:   version,
			Origin:         origin,
		}, applymssql.Options{Logger: log})
	}
	return nil, fmt.Errorf("target %q: applying to %s is not supported yet", t.Name, t.Kind)
}

// pgEngine adds the daemon's health view to a PostgreSQL source.
type pgEngine struct{ *postgres.Source }

func (e pgEngine) Health() (any, bool, string) {
	st := e.Status()
	risk := ""
	if st.WALStatus == "unreserved" || st.WALStatus == "lost" {
		risk = fmt.Sprintf("slot %s wal_status is %s: the server may remove or has removed WAL syncd still needs (retained %d bytes)", st.Slot, st.WALStatus, st.RetainedWALBytes)
	}
	return st, st.Connected, risk
}

// mysqlEngine adds the daemon's health view to a MySQL source.
type mysqlEngine struct{ *mysql.Source }

func (e mysqlEngine) Health() (any, bool, string) {
	st := e.Status()
	return st, st.Connected, st.RetentionRisk
}

// mssqlEngine adds the daemon's health view to a SQL Server source: a
// checkpoint past half of the change retention is a retention risk.
type mssqlEngine struct{ *sqlserver.Server }

func (e mssqlEngine) Health() (any, bool, string) {
	st := e.Status()
	return st, st.Connected, st.RetentionRisk
}

// tableSpecs lists the tables source (of kind) must publish, with the
// scopes that cover each and the columns they list, filter on or map. A
// table with a mapping is checked at start: every mapping is compiled
// against the catalog's table, so an expression that does not type-check
// against the source columns fails the start, not the first row.
func tableSpecs(cfg *scopes.Config, source, kind string) []capture.TableSpec {
	ix := scopes.NewIndex(cfg.Scopes)
	var specs []capture.TableSpec
	for _, id := range ix.Tables(source) {
		spec := capture.TableSpec{ID: id}
		sts := ix.Lookup(source, id)
		if slices.ContainsFunc(sts, func(st *scopes.Table) bool { return st.Mapping != nil }) {
			spec.Check = func(t *capture.Table) error { return checkMappings(sts, t, kind) }
		}
		for _, st := range sts {
			spec.Scopes = append(spec.Scopes, st.Scope.Name)
			if cfg.TwoWay(st.Scope) {
				spec.TwoWay = append(spec.TwoWay, st.Scope.Name)
			}
			spec.Columns = append(spec.Columns, st.Columns...)
			if st.Where != nil {
				spec.Columns = append(spec.Columns, st.Where.Columns()...)
			}
			if st.Mapping != nil {
				spec.Columns = append(spec.Columns, st.Mapping.SourceColumns()...)
			}
		}
		slices.Sort(spec.Columns)
		spec.Columns = slices.Compact(spec.Columns)
		specs = append(specs, spec)
	}
	return specs
}

// checkMappings compiles the mapping of each scope table of sts against
// t, the source table as its catalog describes it.
func checkMappings(sts []*scopes.Table, t *capture.Table, kind string) error {
	var errs []error
	for _, st := range sts {
		if st.Mapping == nil {
			continue
		}
		if _, err := mapping.Compile(st.Mapping, t, kind); err != nil {
			errs = append(errs, fmt.Errorf("scope %q: mapping of %s: %w", st.Scope.Name, t.ID(), err))
		}
	}
	return errors.Join(errs...)
}

// originTables returns the scope_info tables of the MySQL targets that
// are the same database as source, by target name, for recognising the
// transactions syncd applied there.
func originTables(cfg *scopes.Config, source string) (map[capture.TableID]string, error) {
	var out map[capture.TableID]string
	for _, t := range cfg.Targets {
		if t.SameAs != source || t.Kind != scopes.KindMySQL {
			continue
		}
		id, err := applymysql.ScopeInfoTableID(t.DSN, t.ScopeInfoTable)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		if out == nil {
			out = map[capture.TableID]string{}
		}
		out[id] = t.Name
	}
	return out, nil
}

// routeDriverLogs sends the MySQL driver's own messages (it reports
// connections it drops, say) to log instead of stderr's plain text.
func routeDriverLogs(log hclog.Logger) {
	l := log.Named("mysql-driver")
	gomysql.SetLogger(driverLogger{l})
}

type driverLogger struct{ log hclog.Logger }

func (d driverLogger) Print(v ...any) { d.log.Debug(strings.TrimSpace(fmt.Sprint(v...))) }

// allScopes reports whether every scope of source has property ok.
func allScopes(cfg *scopes.Config, source string, ok func(*scopes.Scope) bool) bool {
	for _, sc := range cfg.Scopes {
		if sc.Source == source && !ok(sc) {
			return false
		}
	}
	return true
}
