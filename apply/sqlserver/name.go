package sqlserver

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxIdentifier is the longest SQL Server identifier, in characters
// (https://learn.microsoft.com/en-us/sql/relational-databases/databases/database-identifiers).
const maxIdentifier = 128

// quote returns name as a delimited identifier: in brackets, a ] doubled,
// as QUOTENAME does
// (https://learn.microsoft.com/en-us/sql/t-sql/functions/quotename-transact-sql).
// checkIdentifier has checked its length.
func quote(name string) string {
	return "[" + strings.ReplaceAll(name, "]", "]]") + "]"
}

// checkIdentifier fails for a name SQL Server cannot hold as an
// identifier, even delimited: empty, longer than maxIdentifier, or with
// a NUL character.
func checkIdentifier(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("an empty name")
	case utf8.RuneCountInString(name) > maxIdentifier:
		return fmt.Errorf("name %q is longer than SQL Server's %d characters", name, maxIdentifier)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("name %q holds a NUL character", name)
	}
	return nil
}

// tableName is a table's schema and name; an empty schema is the login's
// default schema.
type tableName struct {
	schema, name string
}

// parseName reads "table" or "schema.table" (from config).
func parseName(s string) (tableName, error) {
	var n tableName
	if schema, name, ok := strings.Cut(s, "."); ok {
		n = tableName{schema: schema, name: name}
		if err := checkIdentifier(schema); err != nil {
			return n, err
		}
	} else {
		n.name = s
	}
	return n, checkIdentifier(n.name)
}

// quoted returns the name quoted, qualified by its schema if it has one.
func (n tableName) quoted() string {
	if n.schema == "" {
		return quote(n.name)
	}
	return quote(n.schema) + "." + quote(n.name)
}

func (n tableName) String() string {
	if n.schema == "" {
		return n.name
	}
	return n.schema + "." + n.name
}
