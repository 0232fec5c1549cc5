package sqlserver

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/syncd-dev/syncd/capture"
)

// databaseFacts is what databaseFactsSQL reads.
type databaseFacts struct {
	Name            string
	User            string
	Tracking        bool
	RetentionPeriod int64
	RetentionUnits  string // e.g. DAYS
	// SnapshotIsolation is sys.databases.snapshot_isolation_state: 1 when
	// ALLOW_SNAPSHOT_ISOLATION is ON.
	SnapshotIsolation int
}

// tableFacts is what tableFactsSQL and columnsSQL read of one table.
type tableFacts struct {
	Spec      capture.TableSpec
	Exists    bool
	Tracked   bool
	CanSelect bool
	CanViewCT bool
	Columns   []columnFacts
}

// columnFacts is one row of columnsSQL.
type columnFacts struct {
	Name       string
	ID         int
	Type       string // the system type's name, without length or precision
	MaxLength  int    // sys.columns.max_length: bytes, -1 for (max)
	Precision  int
	Scale      int
	KeyOrdinal int // position in the primary key, from 1; 0 when not in it
}

// typeName is the column's type as published (capture.Column.Type) and
// as T-SQL writes it: the base name, with the length of character and
// binary types (in characters for nchar and nvarchar, max for -1), the
// precision and scale of decimal and numeric, and the fractional second
// precision of time, datetime2 and datetimeoffset.
func (c columnFacts) typeName() string {
	length := func(unit int) string {
		if c.MaxLength == -1 {
			return c.Type + "(max)"
		}
		return fmt.Sprintf("%s(%d)", c.Type, c.MaxLength/unit)
	}
	switch c.Type {
	case "char", "varchar", "binary", "varbinary":
		return length(1)
	case "nchar", "nvarchar":
		return length(2)
	case "decimal", "numeric":
		return fmt.Sprintf("%s(%d,%d)", c.Type, c.Precision, c.Scale)
	case "time", "datetime2", "datetimeoffset":
		return fmt.Sprintf("%s(%d)", c.Type, c.Scale)
	}
	return c.Type
}

// checkProblems returns every problem the start-up checks find, each
// naming its fix, joined into one error; nil when there is none. It calls
// the capture.TableSpec.Check of each table that has every column its
// spec lists, with the table as tableOf builds it (the types as
// columnFacts.typeName writes them, the primary key in key order).
func checkProblems(db databaseFacts, tables []tableFacts) error {
	var problems []error
	dbq := quoteIdent(db.Name)
	if !db.Tracking {
		problems = append(problems, fmt.Errorf("change tracking is off for database %s: run ALTER DATABASE %s SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 2 DAYS, AUTO_CLEANUP = ON)", db.Name, dbq))
	}
	if db.SnapshotIsolation != 1 {
		problems = append(problems, fmt.Errorf("snapshot isolation is not allowed in database %s (each poll reads in one SNAPSHOT transaction): run ALTER DATABASE %s SET ALLOW_SNAPSHOT_ISOLATION ON", db.Name, dbq))
	}
	user := quoteIdent(db.User)
	for _, f := range tables {
		id, q := f.Spec.ID, quoteTable(f.Spec.ID)
		if !f.Exists {
			problems = append(problems, fmt.Errorf("table %s (scopes %s) does not exist in database %s, or user %s may not see it", id, strings.Join(f.Spec.Scopes, ", "), db.Name, db.User))
			continue
		}
		if !f.Tracked {
			problems = append(problems, fmt.Errorf("change tracking is off for table %s: run ALTER TABLE %s ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)", id, q))
		}
		if !f.CanSelect {
			problems = append(problems, fmt.Errorf("user %s may not read table %s: run GRANT SELECT ON %s TO %s", db.User, id, q, user))
		}
		if !f.CanViewCT {
			problems = append(problems, fmt.Errorf("user %s may not read the change tracking of table %s: run GRANT VIEW CHANGE TRACKING ON %s TO %s", db.User, id, q, user))
		}
		if !slices.ContainsFunc(f.Columns, func(c columnFacts) bool { return c.KeyOrdinal > 0 }) {
			problems = append(problems, fmt.Errorf("table %s has no primary key: change tracking needs one; add it with ALTER TABLE %s ADD PRIMARY KEY (...)", id, q))
		}
		complete := true
		for _, name := range f.Spec.Columns {
			if !slices.ContainsFunc(f.Columns, func(c columnFacts) bool { return c.Name == name }) {
				problems = append(problems, fmt.Errorf("table %s has no column %s, which scopes %s use", id, name, strings.Join(f.Spec.Scopes, ", ")))
				complete = false
			}
		}
		// The scopes' mappings are type-checked against the catalog's
		// table here, at start, as the other sources do, not when the
		// router first sees a change to the table.
		if f.Spec.Check != nil && complete {
			if err := f.Spec.Check(tableOf(f).Table); err != nil {
				problems = append(problems, err)
			}
		}
	}
	return errors.Join(problems...)
}

// tableOf builds the Table the facts describe.
func tableOf(f tableFacts) *Table {
	t := &Table{Table: &capture.Table{Schema: f.Spec.ID.Schema, Name: f.Spec.ID.Name}}
	var key []columnFacts
	for _, c := range f.Columns {
		t.Columns = append(t.Columns, capture.Column{Name: c.Name, Type: c.typeName()})
		t.ColumnIDs = append(t.ColumnIDs, c.ID)
		if c.KeyOrdinal > 0 {
			key = append(key, c)
		}
	}
	slices.SortFunc(key, func(a, b columnFacts) int { return a.KeyOrdinal - b.KeyOrdinal })
	for _, c := range key {
		t.Key = append(t.Key, t.Column(c.Name))
	}
	return t
}
