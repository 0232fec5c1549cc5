package main

import (
	"context"
	"fmt"
	"strings"

	applymysql "github.com/syncd-dev/syncd/apply/mysql"
	applypg "github.com/syncd-dev/syncd/apply/postgres"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/capture/mysql"
	"github.com/syncd-dev/syncd/capture/postgres"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// The read-only connections of syncd plan to sources and targets.

// sourceReader is a source's read-only inspector with a column cache.
type sourceReader struct {
	name    string
	dialect filter.Dialect
	pg      *postgres.Inspector // set for PostgreSQL sources
	inspect interface {
		Columns(ctx context.Context, id capture.TableID) ([]string, error)
		Count(ctx context.Context, id capture.TableID, where string, args []any) (capture.RowCount, error)
	}
	close   func()
	columns map[capture.TableID][]string
}

// planTarget is what plan asks of a target; both engines' Targets have it.
type planTarget interface {
	MissingColumns(ctx context.Context, id capture.TableID, columns []string) (bool, []string, error)
	Checkpoint(ctx context.Context, scope, source string) (checkpoint.Record, bool, error)
	Close()
}

// count counts the rows of table id that match in and do not match out
// (nil in: every row; nil out: none excluded), on the source.
func (s *sourceReader) count(ctx context.Context, id capture.TableID, in, out *filter.Filter) (capture.RowCount, error) {
	var conds []string
	var args []any
	if in != nil {
		var sql string
		sql, args = in.SQL(s.dialect, args)
		conds = append(conds, "("+sql+") IS TRUE")
	}
	if out != nil {
		var sql string
		sql, args = out.SQL(s.dialect, args)
		conds = append(conds, "("+sql+") IS NOT TRUE")
	}
	n, err := s.inspect.Count(ctx, id, strings.Join(conds, " AND "), args)
	if err != nil {
		return n, fmt.Errorf("source %s: %w", s.name, err)
	}
	return n, nil
}

// tableColumns returns the source table's columns, cached.
func (s *sourceReader) tableColumns(ctx context.Context, id capture.TableID) ([]string, error) {
	if cols, ok := s.columns[id]; ok {
		return cols, nil
	}
	cols, err := s.inspect.Columns(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s.name, err)
	}
	if cols == nil {
		return nil, fmt.Errorf("source %s has no table %s", s.name, id)
	}
	s.columns[id] = cols
	return cols, nil
}

// source returns the read-only inspector of the named source, connecting
// on first use.
func (p *planner) source(ctx context.Context, name string) (*sourceReader, error) {
	if r, ok := p.sources[name]; ok {
		return r, nil
	}
	s := p.cfg.Source(name)
	if s == nil {
		return nil, fmt.Errorf("no source %s in the config", name)
	}
	r := &sourceReader{name: name, columns: map[capture.TableID][]string{}}
	switch s.Kind {
	case scopes.KindPostgres:
		in, err := postgres.Inspect(ctx, s.DSN)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
		r.dialect, r.pg, r.inspect = filter.Postgres, in, in
		r.close = func() { in.Close(context.Background()) }
	case scopes.KindMySQL:
		in, err := mysql.Inspect(ctx, s.DSN)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
		r.dialect, r.inspect = filter.MySQL, in
		r.close = func() { in.Close() }
	default:
		return nil, fmt.Errorf("source %s: plan does not read %s sources yet", name, s.Kind)
	}
	p.sources[name] = r
	return r, nil
}

// target returns target t opened read-only; it connects on first use.
func (p *planner) target(t *scopes.Target) (planTarget, error) {
	if w, ok := p.targets[t.Name]; ok {
		return w, nil
	}
	var w planTarget
	var err error
	switch t.Kind {
	case scopes.KindPostgres:
		w, err = applypg.New(applypg.Config{Name: t.Name, DSN: t.DSN, ScopeInfoTable: t.ScopeInfoTable, ReadOnly: true}, applypg.Options{})
	case scopes.KindMySQL:
		w, err = applymysql.New(applymysql.Config{Name: t.Name, DSN: t.DSN, ScopeInfoTable: t.ScopeInfoTable, ReadOnly: true}, applymysql.Options{})
	default:
		err = fmt.Errorf("plan does not read %s targets yet", t.Kind)
	}
	if err != nil {
		return nil, err
	}
	p.targets[t.Name] = w
	return w, nil
}
