package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
)

// ErrNoTable is what a TableDDL's Lookup returns for a table that does
// not exist.
var ErrNoTable = errors.New("no such table")

// CatalogTable is a target table as an engine's catalog describes it.
type CatalogTable interface {
	// HasColumn reports whether the table has the column name, matched
	// as the engine matches column names.
	HasColumn(name string) bool
	// HasUnique reports whether a unique index by which upserts can
	// write rows covers exactly cols.
	HasUnique(cols []string) bool
}

// TableDDL is an engine's part of PrepareTable for one target table: how
// it reads the table from its catalog and changes it.
type TableDDL[C CatalogTable] struct {
	// Target and Table name the target and the table in errors.
	Target string
	Table  fmt.Stringer
	// CreateTables is the target's create_tables: PrepareTable may
	// create the table and add the columns it lacks.
	CreateTables bool
	// UniqueIndex names the indexes HasUnique accepts, in the error of a
	// table without one: "unique index".
	UniqueIndex string
	// Lookup reads the table; ErrNoTable if it does not exist.
	Lookup func() (C, error)
	// Create creates the table with the published columns and its key.
	Create func() error
	// AddColumns adds the published columns named missing.
	AddColumns func(missing []string) error
}

// PrepareTable checks the target table of ts, or creates it, and returns
// its catalog description: with d.CreateTables it creates a missing
// table and adds the published columns it lacks; then every published
// column must be present and, if ts has a key, a unique index must cover
// it. Errors about the table itself (missing, lacking columns or key) are
// marked retry.Terminal: retrying does not cure them.
func PrepareTable[C CatalogTable](ts *router.TableSchema, d TableDDL[C]) (C, error) {
	var none C
	ct, err := d.Lookup()
	if errors.Is(err, ErrNoTable) {
		if !d.CreateTables {
			return none, retry.Terminal(fmt.Errorf("target %s has no table %s; create it or set create_tables = true", d.Target, d.Table))
		}
		if err := d.Create(); err != nil {
			return none, err
		}
		ct, err = d.Lookup()
	}
	if err != nil {
		return none, err
	}
	var missing []string
	for _, c := range ts.Columns {
		if !ct.HasColumn(c.Name) {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 && d.CreateTables {
		if err := d.AddColumns(missing); err != nil {
			return none, err
		}
		if ct, err = d.Lookup(); err != nil {
			return none, err
		}
		missing = nil
	}
	if len(missing) > 0 {
		return none, retry.Terminal(fmt.Errorf("target %s table %s lacks published columns %s; add them",
			d.Target, d.Table, strings.Join(missing, ", ")))
	}
	if len(ts.Key) > 0 && !ct.HasUnique(ts.Key) {
		return none, retry.Terminal(fmt.Errorf("target %s table %s has no primary key or %s on (%s), by which syncd writes rows",
			d.Target, d.Table, d.UniqueIndex, strings.Join(ts.Key, ", ")))
	}
	return ct, nil
}

// KeyClause returns what follows the columns of a CREATE TABLE statement
// for key, a table's key columns quoted by quote: ", PRIMARY KEY (a, b)";
// "" without a key.
func KeyClause(key []string, quote func(string) string) string {
	if len(key) == 0 {
		return ""
	}
	q := make([]string, len(key))
	for i, k := range key {
		q[i] = quote(k)
	}
	return ", PRIMARY KEY (" + strings.Join(q, ", ") + ")"
}
