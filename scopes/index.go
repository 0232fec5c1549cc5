package scopes

import (
	"cmp"
	"slices"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// Index finds the scope tables that cover a source table, and indexes
// their filters (Filters). It is immutable and safe for concurrent use.
type Index struct {
	tables  map[indexKey][]*Table
	filters map[indexKey]*filter.Index
	sources map[string][]capture.TableID
}

type indexKey struct {
	source string
	table  capture.TableID
}

// NewIndex indexes the tables of scopes.
func NewIndex(scopes []*Scope) *Index {
	sorted := slices.SortedFunc(slices.Values(scopes), func(a, b *Scope) int { return cmp.Compare(a.Name, b.Name) })
	ix := &Index{tables: map[indexKey][]*Table{}, filters: map[indexKey]*filter.Index{}, sources: map[string][]capture.TableID{}}
	for _, s := range sorted {
		for _, t := range s.Tables {
			k := indexKey{source: s.Source, table: t.ID}
			if ix.tables[k] == nil {
				ix.sources[s.Source] = append(ix.sources[s.Source], t.ID)
			}
			ix.tables[k] = append(ix.tables[k], t)
		}
	}
	for _, ids := range ix.sources {
		slices.SortFunc(ids, compareTableIDs)
	}
	for k, tables := range ix.tables {
		wheres := make([]*filter.Filter, len(tables))
		for i, t := range tables {
			wheres[i] = t.Where
		}
		ix.filters[k] = filter.NewIndex(wheres)
	}
	return ix
}

// Lookup returns the scope tables that cover table t of source, in scope
// name order, or nil. It does not allocate; the caller must not modify the
// slice.
func (ix *Index) Lookup(source string, t capture.TableID) []*Table {
	return ix.tables[indexKey{source: source, table: t}]
}

// Filters returns the index of the where filters of the scope tables
// Lookup returns for table t of source: its positions are positions in
// Lookup's slice. Routing a row through it evaluates only the filters of
// the spokes whose `col = :param` value the row has, not every scope's.
// Nil if no scope covers the table.
func (ix *Index) Filters(source string, t capture.TableID) *filter.Index {
	return ix.filters[indexKey{source: source, table: t}]
}

// Tables returns the tables of source that some scope covers, sorted by
// schema and name: those the source must publish.
func (ix *Index) Tables(source string) []capture.TableID {
	return slices.Clone(ix.sources[source])
}

func compareTableIDs(a, b capture.TableID) int {
	if c := cmp.Compare(a.Schema, b.Schema); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}
