package scopes

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes/filter"
	"github.com/syncd-dev/syncd/scopes/mapping"
)

// ParseDefinition rebuilds a scope from its Definition, so that what a
// daemon recorded can be compared with a config. The scope has the
// recorded name, source, snapshot mode and tables (target table, columns,
// filter with params already bound); Targets, Template and Params are not
// part of a definition and stay empty.
func ParseDefinition(b []byte) (*Scope, error) {
	var d definition
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("parse scope definition: %w", err)
	}
	if d.Version != definitionVersion {
		return nil, fmt.Errorf("parse scope definition of %s: layout version %d, want %d", d.Scope, d.Version, definitionVersion)
	}
	s := &Scope{Name: d.Scope, Source: d.Source, Snapshot: d.Snapshot}
	for _, td := range d.Tables {
		t := &Table{Scope: s, Columns: td.Columns}
		var ok bool
		if t.ID, ok = parseTableID(td.Table); !ok {
			return nil, fmt.Errorf("parse scope definition of %s: bad table name %q", d.Scope, td.Table)
		}
		if t.Target, ok = parseTableID(td.Target); !ok {
			return nil, fmt.Errorf("parse scope definition of %s: bad target table name %q", d.Scope, td.Target)
		}
		if td.Mapping != nil {
			m, err := mapping.ParseDefinition(td.Mapping)
			if err != nil {
				return nil, fmt.Errorf("parse scope definition of %s: mapping of %s: %w", d.Scope, td.Table, err)
			}
			t.Mapping = m
		}
		if td.Where != "" {
			w, err := filter.Parse(td.Where)
			if err != nil {
				return nil, fmt.Errorf("parse scope definition of %s: filter of %s: %w", d.Scope, td.Table, err)
			}
			t.Where = w
		}
		s.Tables = append(s.Tables, t)
	}
	return s, nil
}

// parseTableID splits "schema.name" at the first dot, as the config does.
func parseTableID(s string) (capture.TableID, bool) {
	schema, name, ok := strings.Cut(s, ".")
	return capture.TableID{Schema: schema, Name: name}, ok && schema != "" && name != ""
}

// ScopeDiff is what changes in one scope from a recorded definition to a
// config. The zero Tables and false flags mean no change.
type ScopeDiff struct {
	Scope   string
	Added   bool // the scope is new
	Removed bool // the config no longer has the scope
	// OldSource and OldSnapshot are set when the source or the snapshot
	// mode changed; NewSource and NewSnapshot are then the config's.
	OldSource, NewSource     string
	OldSnapshot, NewSnapshot string
	// Tables are the tables added, removed or changed, sorted by id.
	Tables []TableDiff
}

// Changed reports whether d holds any change.
func (d ScopeDiff) Changed() bool {
	return d.Added || d.Removed || d.OldSource != d.NewSource || d.OldSnapshot != d.NewSnapshot || len(d.Tables) > 0
}

// TableDiff is what changes in one table of a scope.
type TableDiff struct {
	Table   capture.TableID
	Added   bool // new in the scope: Table is the config's
	Removed bool // gone from the scope: Table is the recorded one
	// Old and New are the recorded and the configured table; nil when
	// the table was added (Old) or removed (New).
	Old, New *Table
	// ColumnsAdded and ColumnsRemoved compare the published columns; a
	// table that lists none publishes every column of the source table,
	// as the columns function of Diff gives them.
	ColumnsAdded, ColumnsRemoved []string
	// FilterChanged says the where filter changed (Old.Where, New.Where;
	// either may be nil: every row).
	FilterChanged bool
	// TargetChanged says the target table changed (Old.Target, New.Target).
	TargetChanged bool
	// MappingChanged says the mapping changed (Old.Mapping, New.Mapping;
	// either may be nil: none), its hash key included.
	MappingChanged bool
}

// Diff compares a scope as recorded (old, from ParseDefinition) with the
// same scope in a config (new). Either may be nil: the scope was added or
// removed. columns returns the source table's columns, to compare a table
// that lists none (every column) with one that lists some; with a nil
// columns, every column is written "*". Params are compared through the
// filters they are bound into.
func Diff(old, new *Scope, columns func(capture.TableID) []string) ScopeDiff {
	switch {
	case old == nil && new == nil:
		return ScopeDiff{}
	case old == nil:
		d := ScopeDiff{Scope: new.Name, Added: true, NewSource: new.Source, NewSnapshot: new.Snapshot}
		for _, t := range sortedTables(new) {
			d.Tables = append(d.Tables, TableDiff{Table: t.ID, Added: true, New: t, ColumnsAdded: published(t, columns)})
		}
		return d
	case new == nil:
		d := ScopeDiff{Scope: old.Name, Removed: true, OldSource: old.Source, OldSnapshot: old.Snapshot}
		for _, t := range sortedTables(old) {
			d.Tables = append(d.Tables, TableDiff{Table: t.ID, Removed: true, Old: t, ColumnsRemoved: published(t, columns)})
		}
		return d
	}
	d := ScopeDiff{Scope: new.Name}
	if old.Source != new.Source {
		d.OldSource, d.NewSource = old.Source, new.Source
	}
	if old.Snapshot != new.Snapshot {
		d.OldSnapshot, d.NewSnapshot = old.Snapshot, new.Snapshot
	}
	olds := sortedTables(old)
	for _, nt := range sortedTables(new) {
		i := slices.IndexFunc(olds, func(t *Table) bool { return t.ID == nt.ID })
		if i < 0 {
			d.Tables = append(d.Tables, TableDiff{Table: nt.ID, Added: true, New: nt, ColumnsAdded: published(nt, columns)})
			continue
		}
		if td, ok := diffTable(olds[i], nt, columns); ok {
			d.Tables = append(d.Tables, td)
		}
	}
	for _, ot := range olds {
		if new.table(ot.ID) == nil {
			d.Tables = append(d.Tables, TableDiff{Table: ot.ID, Removed: true, Old: ot, ColumnsRemoved: published(ot, columns)})
		}
	}
	slices.SortStableFunc(d.Tables, func(a, b TableDiff) int { return compareTableIDs(a.Table, b.Table) })
	return d
}

// diffTable compares one table; ok is false if nothing changed.
func diffTable(old, new *Table, columns func(capture.TableID) []string) (TableDiff, bool) {
	td := TableDiff{Table: new.ID, Old: old, New: new}
	if !slices.Equal(old.Columns, new.Columns) {
		oc, nc := published(old, columns), published(new, columns)
		for _, c := range nc {
			if !slices.Contains(oc, c) {
				td.ColumnsAdded = append(td.ColumnsAdded, c)
			}
		}
		for _, c := range oc {
			if !slices.Contains(nc, c) {
				td.ColumnsRemoved = append(td.ColumnsRemoved, c)
			}
		}
	}
	td.FilterChanged = whereText(old) != whereText(new)
	td.TargetChanged = old.Target != new.Target
	td.MappingChanged = MappingText(old) != MappingText(new)
	return td, len(td.ColumnsAdded)+len(td.ColumnsRemoved) > 0 || td.FilterChanged || td.TargetChanged || td.MappingChanged
}

// published is the columns t publishes.
func published(t *Table, columns func(capture.TableID) []string) []string {
	switch {
	case t.Columns != nil:
		return t.Columns
	case columns != nil:
		return columns(t.ID)
	}
	return []string{"*"}
}

// MappingText returns the canonical form of t's mapping, "" without one.
func MappingText(t *Table) string {
	if t.Mapping == nil {
		return ""
	}
	return string(t.Mapping.Definition())
}

func whereText(t *Table) string {
	if t.Where == nil {
		return ""
	}
	return t.Where.String()
}

func sortedTables(s *Scope) []*Table {
	return slices.SortedFunc(slices.Values(s.Tables), func(a, b *Table) int { return compareTableIDs(a.ID, b.ID) })
}

// table returns the scope's table id, or nil.
func (s *Scope) table(id capture.TableID) *Table {
	for _, t := range s.Tables {
		if t.ID == id {
			return t
		}
	}
	return nil
}
