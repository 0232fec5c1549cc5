// Package mapping turns a scope table's source rows into the rows its
// targets store: columns renamed, computed from expressions, dropped, and
// the rest carried over by name.
//
// A Spec is what the config says; Parse and Spec.Check need no source
// schema (syncd validate). Compile resolves a Spec against one version of
// the source table, type-checks every expression against the source
// columns' types, and returns a Mapper, which maps rows without compiling
// anything again. Expressions are github.com/expr-lang/expr programs; see
// docs/configuration.md for the functions they may call and
// docs/performance.md for why that language.
package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Auto-map modes: how source columns no column block names reach the
// target, and how column blocks without from or expr find their source.
const (
	// AutoExact carries every remaining source column over under its own
	// name; a column block without from or expr takes the source column
	// of exactly its name.
	AutoExact = "exact"
	// AutoFold is AutoExact with names compared case- and
	// underscore-insensitively ("FullName" matches "full_name"); two
	// source columns that fold to one name are an error when the scope
	// starts.
	AutoFold = "fold"
	// AutoNone carries over only the columns that column blocks name.
	AutoNone = "none"
)

// Spec is the mapping of one scope table, as configured.
type Spec struct {
	// Auto is AutoExact, AutoFold or AutoNone.
	Auto string
	// Drop lists source columns that are not carried over by Auto.
	Drop []string
	// Columns are the target columns that column blocks declare, in
	// declaration order.
	Columns []Column
	// HashKey is the key of hmac_sha256(); nil if none is configured. It
	// is secret: never logged, and only its fingerprint is part of the
	// Definition.
	HashKey []byte
	// fingerprint is the hash key's fingerprint of a Spec rebuilt by
	// ParseDefinition, which has no HashKey.
	fingerprint string
}

// Column is one declared target column: a source column renamed (From),
// a computed one (Expr), or, with neither, the source column of its own
// name as Auto compares names.
type Column struct {
	Name string
	From string
	Expr *Expr // nil unless computed
	// Type is the target column's type in the source's dialect, for
	// create_tables; "" infers it (the source column's type, or the
	// expression's result type).
	Type string
	// Injective declares that Expr gives distinct keys distinct values,
	// which a computed column that replaces a key column must be.
	Injective bool
	// Pos is where the column is declared ("file:line:col"), for the
	// errors Compile reports; "" if not known. Not part of the Definition.
	Pos string
}

// source returns the name of the source column c takes, or "" for a
// computed column.
func (c *Column) source() string {
	switch {
	case c.Expr != nil:
		return ""
	case c.From != "":
		return c.From
	}
	return c.Name
}

// Fold returns the name as AutoFold compares it: lower case, without '_'.
func Fold(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "")
}

// CheckError is one problem Check finds, in declared column Column.
type CheckError struct {
	Column int
	Err    error
}

// Check reports what is wrong with s without the source schema: repeated
// or empty target names (folded with AutoFold), a column with both from
// and expr, a column that takes a source column drop lists, injective on
// a column that computes nothing.
func (s *Spec) Check() []CheckError {
	var errs []CheckError
	fail := func(i int, format string, args ...any) {
		errs = append(errs, CheckError{Column: i, Err: fmt.Errorf(format, args...)})
	}
	seen := map[string]bool{}
	norm := func(n string) string {
		if s.Auto == AutoFold {
			return Fold(n)
		}
		return n
	}
	for i, c := range s.Columns {
		switch {
		case c.Name == "":
			fail(i, "a target column has an empty name")
		case seen[norm(c.Name)]:
			fail(i, "target column %q is declared twice", c.Name)
		}
		seen[norm(c.Name)] = true
		if c.Expr != nil && c.From != "" {
			fail(i, "target column %q has both from and expr; use one", c.Name)
		}
		if src := c.source(); src != "" && slices.ContainsFunc(s.Drop, func(d string) bool { return norm(d) == norm(src) }) {
			fail(i, "target column %q takes source column %q, which drop lists", c.Name, src)
		}
		if c.Injective && c.Expr == nil {
			fail(i, "target column %q is declared injective but computes nothing", c.Name)
		}
	}
	return errs
}

// SourceColumns returns the source column names s uses (drop, from, the
// source of a bare column block, expression identifiers), for checking
// that the source table has them before any row is read; nil with
// AutoFold, whose names need not be spelled as the source's.
func (s *Spec) SourceColumns() []string {
	if s.Auto == AutoFold {
		return nil
	}
	cols := slices.Clone(s.Drop)
	for _, c := range s.Columns {
		if src := c.source(); src != "" {
			cols = append(cols, src)
		}
		if c.Expr != nil {
			cols = append(cols, c.Expr.Refs...)
		}
	}
	return cols
}

// Definition is the canonical JSON form of a Spec, part of the scope's
// definition: equal mappings give equal bytes. The hash key appears only
// as a fingerprint, so rotating it changes the definition.
func (s *Spec) Definition() json.RawMessage {
	type col struct {
		Name      string `json:"name"`
		From      string `json:"from,omitempty"`
		Expr      string `json:"expr,omitempty"`
		Type      string `json:"type,omitempty"`
		Injective bool   `json:"injective,omitempty"`
	}
	d := struct {
		Auto    string   `json:"auto"`
		Drop    []string `json:"drop,omitempty"`
		Columns []col    `json:"columns,omitempty"`
		Key     string   `json:"hash_key,omitempty"`
	}{Auto: s.Auto, Drop: slices.Sorted(slices.Values(s.Drop))}
	for _, c := range s.Columns {
		dc := col{Name: c.Name, From: c.From, Type: c.Type, Injective: c.Injective}
		if c.Expr != nil {
			dc.Expr = c.Expr.Source
		}
		d.Columns = append(d.Columns, dc)
	}
	d.Key = s.fingerprint
	if s.HashKey != nil {
		sum := sha256.Sum256(append([]byte("syncd hash key fingerprint:"), s.HashKey...))
		d.Key = hex.EncodeToString(sum[:8])
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic("mapping: marshal definition: " + err.Error()) // strings and bools only
	}
	return b
}

// ParseDefinition rebuilds a Spec from its Definition, without the hash
// key (which it does not hold): enough to compare and to describe, not to
// map rows that hash.
func ParseDefinition(b []byte) (*Spec, error) {
	var d struct {
		Auto    string   `json:"auto"`
		Drop    []string `json:"drop"`
		Columns []struct {
			Name, From, Expr, Type string
			Injective              bool
		} `json:"columns"`
		Key string `json:"hash_key"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("parse mapping definition: %w", err)
	}
	s := &Spec{Auto: d.Auto, Drop: d.Drop, fingerprint: d.Key}
	for _, dc := range d.Columns {
		c := Column{Name: dc.Name, From: dc.From, Type: dc.Type, Injective: dc.Injective}
		if dc.Expr != "" {
			e, err := Parse(dc.Expr)
			if err != nil {
				return nil, fmt.Errorf("parse mapping definition: column %s: %w", dc.Name, err)
			}
			c.Expr = e
		}
		s.Columns = append(s.Columns, c)
	}
	return s, nil
}

// Relanded returns the target columns whose values differ between the
// rows old and new map, when a changed transform is all that tells them
// apart: the same auto mode, drop list, hash key and declared columns in
// the same order, some computed columns with another expr. It returns
// nil otherwise (a column takes another source column, so others may be
// carried over; a column's declared type changed), when whole rows must
// be sent again.
func Relanded(old, new *Spec) []string {
	if old == nil || new == nil || len(old.Columns) != len(new.Columns) {
		return nil
	}
	bare := func(s *Spec) string {
		b := *s
		b.Columns = nil
		return string(b.Definition())
	}
	if bare(old) != bare(new) {
		return nil
	}
	exprOf := func(c *Column) string {
		if c.Expr == nil {
			return ""
		}
		return c.Expr.Source
	}
	var cols []string
	for i := range new.Columns {
		o, n := &old.Columns[i], &new.Columns[i]
		switch {
		case o.Name != n.Name || o.Type != n.Type || o.From != n.From || (o.Expr == nil) != (n.Expr == nil):
			// Another source column taken, or none: the carried-over
			// columns change too.
			return nil
		case exprOf(o) != exprOf(n):
			cols = append(cols, n.Name)
		}
	}
	return cols
}

// Inverse returns the mapping that takes the rows s maps back to the
// source's columns, when s only renames and carries columns over (auto
// "exact" or "none", no drop, no computed column); nil otherwise: a
// computed or dropped column cannot be recovered from the target row,
// and folded names do not say how the source spells them.
func (s *Spec) Inverse() *Spec {
	if s.Auto == AutoFold || len(s.Drop) > 0 {
		return nil
	}
	inv := &Spec{Auto: s.Auto}
	for _, c := range s.Columns {
		if c.Expr != nil {
			return nil
		}
		inv.Columns = append(inv.Columns, Column{Name: c.source(), From: c.Name, Pos: c.Pos})
	}
	return inv
}
