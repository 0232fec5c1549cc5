package scopes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// definitionVersion numbers the layout of Definition, so that a future
// change of layout is told apart from a change of scope.
const definitionVersion = 1

// definition is the JSON form of what determines a scope's content.
type definition struct {
	Version  int               `json:"v"`
	Scope    string            `json:"scope"`
	Source   string            `json:"source"`
	Snapshot string            `json:"snapshot"`
	Tables   []tableDefinition `json:"tables"`
}

type tableDefinition struct {
	Table   string   `json:"table"`
	Target  string   `json:"target"`
	Columns []string `json:"columns"` // null: all
	Where   string   `json:"where,omitempty"`
	// Mapping is the table's mapping.Spec.Definition; absent without one.
	Mapping json.RawMessage `json:"mapping,omitempty"`
}

// Definition returns the canonical JSON of what determines the scope's
// content: its name, source, snapshot mode, and for each table (sorted by
// id) its id, target table, columns, canonical where filter with params
// bound, and mapping (its hash key as a fingerprint only). Equal definitions give equal bytes, whatever the config's layout,
// order of tables or spelling of filters.
//
// It leaves out what does not change the rows a target holds: DSNs and
// other secrets, the target databases (adding one must not re-version the
// scope for the others), on_apply_error, depends_on (it orders when rows
// land, not which: adding it must not take the snapshots again), and the
// template the tables came from.
func (s *Scope) Definition() []byte {
	d := definition{Version: definitionVersion, Scope: s.Name, Source: s.Source, Snapshot: s.Snapshot}
	tables := slices.SortedFunc(slices.Values(s.Tables), func(a, b *Table) int { return compareTableIDs(a.ID, b.ID) })
	for _, t := range tables {
		td := tableDefinition{Table: t.ID.String(), Target: t.Target.String(), Columns: t.Columns}
		if t.Where != nil {
			td.Where = t.Where.String()
		}
		if t.Mapping != nil {
			td.Mapping = t.Mapping.Definition()
		}
		d.Tables = append(d.Tables, td)
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic("scopes: marshal scope definition: " + err.Error()) // only strings: cannot fail
	}
	return b
}

// Hash returns the hex SHA-256 of the scope's Definition.
func (s *Scope) Hash() string {
	sum := sha256.Sum256(s.Definition())
	return hex.EncodeToString(sum[:])
}
