package filter

import (
	"fmt"
	"strconv"
	"strings"
)

// Dialect is a SQL dialect a Filter can be rendered in.
type Dialect uint8

// The dialects. The zero Dialect is none of them.
const (
	Postgres  Dialect = iota + 1 // $1 placeholders, "ident"
	MySQL                        // ? placeholders, `ident`
	SQLServer                    // @p1 placeholders, [ident]
)

func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	case SQLServer:
		return "sqlserver"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// QuoteIdent quotes name as an identifier of d, whatever its characters.
func (d Dialect) QuoteIdent(name string) string {
	switch d {
	case MySQL:
		return quote(name, '`')
	case SQLServer:
		return "[" + strings.ReplaceAll(name, "]", "]]") + "]"
	}
	return quote(name, '"')
}

// Placeholder returns the placeholder of d for the n-th bind argument,
// counting from 1.
func (d Dialect) Placeholder(n int) string {
	switch d {
	case MySQL:
		return "?"
	case SQLServer:
		return "@p" + strconv.Itoa(n)
	}
	return "$" + strconv.Itoa(n)
}

// SQL renders f as a boolean SQL expression in dialect d, for the WHERE
// clause of a snapshot query. Every value becomes a bind argument appended
// to args, numbered after the len(args) already there; identifiers are
// always quoted. It returns the text and the extended args.
//
// Nested groups and NOT's operand are always parenthesized, so the text
// means the same under every operator precedence setting. LIKE keeps the
// backslash escape in every dialect: PostgreSQL's default escape is
// backslash; MySQL gets ESCAPE with a backslash argument (its default
// escape disappears under NO_BACKSLASH_ESCAPES); SQL Server gets
// ESCAPE '\' and a pattern whose [ is escaped, as [ opens a character class
// there.
//
// The database evaluates the text with its own rules, which differ from
// Program.Eval where noted in Eval. SQL panics if d is not a declared
// Dialect or f has unbound params: both are programming errors.
func (f *Filter) SQL(d Dialect, args []any) (string, []any) {
	if d < Postgres || d > SQLServer {
		panic(fmt.Sprintf("filter: SQL called with invalid %v", d))
	}
	if len(f.params) > 0 {
		panic("filter: SQL called on a filter with unbound params " + strings.Join(f.params, ", "))
	}
	w := writer{dialect: d, args: args}
	w.node(f.root, inTop)
	return w.b.String(), w.args
}

// DiffSQL renders, as a boolean SQL expression in dialect d, the rows that
// in admits and out does not: the rows entering a scope whose filter
// changes from out to in (and, with the two swapped, the rows leaving it).
// A nil filter admits every row. A row for which out is NULL (unknown) was
// not admitted by out, so NOT out is written NOT COALESCE((out), FALSE);
// SQL Server, without boolean values, gets CASE WHEN (out) THEN 1 ELSE 0
// END = 0. Args are appended as SQL appends them.
func DiffSQL(d Dialect, in, out *Filter, args []any) (string, []any) {
	if out == nil {
		return "1 = 0", args // out admits every row: none is left
	}
	var b strings.Builder
	if in != nil {
		var s string
		s, args = in.SQL(d, args)
		b.WriteString("(" + s + ") AND ")
	}
	s, args := out.SQL(d, args)
	if d == SQLServer {
		b.WriteString("CASE WHEN (" + s + ") THEN 1 ELSE 0 END = 0")
	} else {
		b.WriteString("NOT COALESCE((" + s + "), FALSE)")
	}
	return b.String(), args
}
