package scopes

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// tableOwner is the scope or template whose table blocks are decoded.
type tableOwner struct {
	kind   string // "scope" or "template"
	name   string
	params []string // the params a template's filters may use
}

func (o tableOwner) String() string { return fmt.Sprintf("%s %q", o.kind, o.name) }

// decodeTables decodes the table blocks of a scope or template, and checks
// that no source table appears twice and no two tables share a target.
func (l *loader) decodeTables(blocks hcl.Blocks, owner tableOwner) []*Table {
	var tables []*Table
	seen := map[capture.TableID]hcl.Range{}
	targets := map[capture.TableID]capture.TableID{}
	for _, b := range blocks {
		t, targetRange := l.decodeTable(b, owner)
		if t == nil {
			continue
		}
		if first, dup := seen[t.ID]; dup {
			l.errorf(b.LabelRanges[0], "Duplicate table",
				"Table %q appears twice in %s; the first is at %s.", t.ID, owner, first)
			continue
		}
		seen[t.ID] = b.DefRange
		if other, dup := targets[t.Target]; dup {
			l.errorf(targetRange, "Duplicate target table",
				"Tables %q and %q of %s both go to target table %q.", other, t.ID, owner, t.Target)
			continue
		}
		targets[t.Target] = t.ID
		tables = append(tables, t)
	}
	return tables
}

// decodeTable decodes one table block. It returns nil if the table name is
// invalid, and the range its target is declared at.
func (l *loader) decodeTable(b *hcl.Block, owner tableOwner) (*Table, hcl.Range) {
	content, diags := b.Body.Content(tableSchema())
	l.diags = append(l.diags, diags...)
	attrs := content.Attributes
	name := b.Labels[0]
	id, ok := l.tableID(name, b.LabelRanges[0])
	t := &Table{ID: id, Target: id, DeclRange: b.DefRange}
	targetRange := b.LabelRanges[0]
	if a := attrs["columns"]; a != nil && !isNull(a.Expr) {
		t.Columns = l.columns(a, name, owner)
	}
	if a := attrs["where"]; a != nil && !isNull(a.Expr) {
		t.Where = l.where(a, name, owner)
	}
	t.Conflicts = l.conflicts(attrs)
	var target string
	if l.decode(attrs, "target", &target) {
		targetRange = attrs["target"].Expr.Range()
		if tid, valid := l.tableID(target, targetRange); valid {
			t.Target = tid
		}
	}
	for i, mb := range content.Blocks {
		switch {
		case i > 0:
			l.errorf(mb.DefRange, "Duplicate mapping", "Table %q in %s has more than one mapping block.", name, owner)
		case t.Columns != nil:
			l.errorf(mb.DefRange, "Mapping and columns",
				"Table %q in %s has both columns and a mapping; list the columns to leave out in the mapping's drop.", name, owner)
		default:
			t.Mapping = l.decodeMapping(mb, name, owner)
		}
	}
	if !ok {
		return nil, targetRange
	}
	return t, targetRange
}

// tableID parses a "schema.name" table name, splitting at the first dot.
func (l *loader) tableID(s string, rng hcl.Range) (capture.TableID, bool) {
	schema, name, ok := strings.Cut(s, ".")
	if !ok || schema == "" || name == "" {
		l.errorf(rng, "Invalid table name",
			`The table name %q must be schema-qualified, such as "public.orders" (for MySQL, "database.table").`, s)
		return capture.TableID{}, false
	}
	return capture.TableID{Schema: schema, Name: name}, true
}

// columns decodes a non-empty list of distinct, non-empty column names.
func (l *loader) columns(a *hcl.Attribute, table string, owner tableOwner) []string {
	items, ok := l.stringList(a)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		l.errorf(a.Expr.Range(), "Empty column list",
			"The columns of table %q in %s must not be empty; omit columns to publish every column.", table, owner)
		return nil
	}
	cols := make([]string, 0, len(items))
	seen := map[string]bool{}
	for _, it := range items {
		switch {
		case it.value == "":
			l.errorf(it.rng, "Empty column name", "A column of table %q in %s has an empty name.", table, owner)
		case seen[it.value]:
			l.errorf(it.rng, "Duplicate column", "Column %q appears twice in table %q of %s.", it.value, table, owner)
		default:
			seen[it.value] = true
			cols = append(cols, it.value)
		}
	}
	return cols
}

// where parses a table's row filter and checks the params it uses: none
// in a scope, only declared ones in a template.
func (l *loader) where(a *hcl.Attribute, table string, owner tableOwner) *filter.Filter {
	var src string
	if !l.decodeExpr(a.Expr, &src) {
		return nil
	}
	f, err := filter.Parse(src)
	if err != nil {
		var se *filter.SyntaxError
		if !errors.As(err, &se) {
			se = &filter.SyntaxError{Msg: err.Error()}
		}
		l.errorf(l.charRange(a.Expr, src, se.Offset), "Invalid where filter",
			"Table %q in %s has an invalid where filter: %s.", table, owner, se.Msg)
		return nil
	}
	var bad []string
	for _, p := range f.Params() {
		if owner.kind == "scope" || !slices.Contains(owner.params, p) {
			bad = append(bad, ":"+p)
		}
	}
	switch {
	case len(bad) == 0:
		return f
	case owner.kind == "scope":
		l.errorf(a.Expr.Range(), "Param outside a template",
			"The where of table %q in %s uses %s; params can only be used in templates.", table, owner, strings.Join(bad, ", "))
	case len(owner.params) == 0:
		l.errorf(a.Expr.Range(), "Undeclared param",
			"The where of table %q in %s uses %s, but the template declares no params.", table, owner, strings.Join(bad, ", "))
	default:
		l.errorf(a.Expr.Range(), "Undeclared param",
			"The where of table %q in %s uses %s, which the template's params (%s) do not declare.",
			table, owner, strings.Join(bad, ", "), quotedList(owner.params, "and"))
	}
	return nil
}

// charRange returns the range of the character at byte offset off of the
// string value of expr, if expr is a one-line string literal without
// escapes (its source text is value in double quotes); otherwise expr's
// range.
func (l *loader) charRange(expr hcl.Expression, value string, off int) hcl.Range {
	rng := expr.Range()
	src := l.src[rng.Filename]
	if rng.Start.Line != rng.End.Line || !rng.CanSliceBytes(src) || off < 0 || off > len(value) {
		return rng
	}
	if text := string(rng.SliceBytes(src)); text != `"`+value+`"` {
		return rng
	}
	start := rng.Start
	start.Byte += 1 + off
	start.Column += 1 + utf8.RuneCountInString(value[:off])
	end := start
	if off < len(value) {
		_, n := utf8.DecodeRuneInString(value[off:])
		end.Byte += n
		end.Column++
	}
	return hcl.Range{Filename: rng.Filename, Start: start, End: end}
}
