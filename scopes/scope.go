package scopes

import (
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/syncd-dev/syncd/scopes/filter"
)

// scopeDecl is a decoded scope block with the ranges that resolve's
// cross-reference checks point at.
type scopeDecl struct {
	scope    *Scope
	source   item   // the source attribute; value "" if it did not decode
	targets  []item // the targets list's elements
	template item   // the template attribute; value "" if none
	depends  []item // the depends_on list's elements
	params   *hcl.Attribute
	values   []paramValue
}

// paramValue is one entry of a scope's params map.
type paramValue struct {
	name     string
	keyRange hcl.Range
	value    filter.Value
	valid    bool // false if the value did not decode (which is reported)
}

// invalid reports whether the scope sets param name to a value that did
// not decode.
func (d *scopeDecl) invalid(name string) bool {
	for _, v := range d.values {
		if v.name == name && !v.valid {
			return true
		}
	}
	return false
}

// decodeScope decodes a scope block. Its references to sources, targets and
// templates are checked later, by resolve, once every block is known.
func (l *loader) decodeScope(b *hcl.Block) *scopeDecl {
	unique := l.declare("scope", b)
	content, diags := b.Body.Content(scopeSchema())
	l.diags = append(l.diags, diags...)
	attrs := content.Attributes
	s := &Scope{
		Name:           b.Labels[0],
		Snapshot:       SnapshotInitial,
		OnApplyError:   OnApplyErrorStop,
		RowsPerMessage: 1,
		DeclRange:      b.DefRange,
	}
	d := &scopeDecl{scope: s}
	if a := attrs["source"]; l.requireNotNull(attrs, "source") && l.decodeExpr(a.Expr, &s.Source) {
		d.source = item{value: s.Source, rng: a.Expr.Range()}
	}
	if a := attrs["targets"]; a != nil && !isNull(a.Expr) {
		d.targets, _ = l.stringList(a)
		s.Targets = l.distinct(d.targets, "target", s)
	}
	if a := attrs["depends_on"]; a != nil && !isNull(a.Expr) {
		d.depends, _ = l.stringList(a)
		s.DependsOn = l.distinct(d.depends, "dependency", s)
	}
	l.oneOf(attrs, "snapshot", &s.Snapshot, SnapshotInitial, SnapshotWhenNeeded, SnapshotNever)
	l.oneOf(attrs, "on_apply_error", &s.OnApplyError, OnApplyErrorStop, OnApplyErrorDLQ)
	if l.decode(attrs, "rows_per_message", &s.RowsPerMessage) && (s.RowsPerMessage < 1 || s.RowsPerMessage > MaxRowsPerMessage) {
		l.errorf(attrs["rows_per_message"].Expr.Range(), "Invalid rows_per_message",
			"The rows_per_message must be between 1 and %d, not %d.", MaxRowsPerMessage, s.RowsPerMessage)
	}
	if l.decode(attrs, "template", &s.Template) {
		d.template = item{value: s.Template, rng: attrs["template"].Expr.Range()}
	}
	if a := attrs["params"]; a != nil && !isNull(a.Expr) {
		d.params = a
		d.values = l.paramValues(a)
		if s.Template == "" && attrs["template"] == nil {
			l.errorf(a.NameRange, "Params without a template",
				"Scope %q sets params but uses no template; params fill in a template's where filters.", s.Name)
		}
	}
	s.Conflicts = l.conflicts(attrs)
	if l.decode(attrs, "seed", &s.Seed) {
		s.SeedRange = attrs["seed"].Expr.Range()
	}
	s.Tables = l.decodeTables(content.Blocks, tableOwner{kind: "scope", name: s.Name})
	for _, t := range s.Tables {
		t.Scope = s
	}
	switch {
	case attrs["template"] != nil && len(content.Blocks) > 0:
		l.errorf(attrs["template"].NameRange, "Template and tables",
			"Scope %q uses a template and also has table blocks; use one or the other.", s.Name)
	case attrs["template"] == nil && len(content.Blocks) == 0:
		l.errorf(b.DefRange, "Scope without tables",
			"Scope %q has no tables; add table blocks or use a template.", s.Name)
	}
	if !unique {
		return nil
	}
	l.scopes = append(l.scopes, d)
	return d
}

// distinct returns the values of items, reporting repeated ones.
func (l *loader) distinct(items []item, what string, s *Scope) []string {
	values := make([]string, 0, len(items))
	for _, it := range items {
		if slices.Contains(values, it.value) {
			l.errorf(it.rng, "Duplicate "+what, "Scope %q lists %s %q twice.", s.Name, what, it.value)
			continue
		}
		values = append(values, it.value)
	}
	return values
}

// paramValues decodes a scope's params map.
func (l *loader) paramValues(a *hcl.Attribute) []paramValue {
	pairs, diags := hcl.ExprMap(a.Expr)
	l.diags = append(l.diags, diags...)
	var values []paramValue
	seen := map[string]bool{}
	for _, p := range pairs {
		var name string
		if !l.decodeExpr(p.Key, &name) {
			continue
		}
		if seen[name] {
			l.errorf(p.Key.Range(), "Duplicate param", "Param %q is set twice.", name)
			continue
		}
		seen[name] = true
		pv := paramValue{name: name, keyRange: p.Key.Range()}
		if v, _, ok := l.value(p.Value); ok {
			var err error
			if pv.value, err = filterValue(v); err != nil {
				l.errorf(p.Value.Range(), "Invalid param value", "The value of param %q %v.", name, err)
			} else {
				pv.valid = true
			}
		}
		values = append(values, pv)
	}
	return values
}

// filterValue converts a param's HCL value to a filter literal: strings,
// numbers, bools and null are accepted.
func filterValue(v cty.Value) (filter.Value, error) {
	if v.IsNull() {
		return filter.Null(), nil
	}
	switch v.Type() {
	case cty.String:
		return filter.String(v.AsString()), nil
	case cty.Bool:
		return filter.Bool(v.True()), nil
	case cty.Number:
		f := v.AsBigFloat()
		if f.IsInf() {
			return filter.Value{}, errors.New("must be a finite number")
		}
		if i, acc := f.Int64(); acc == big.Exact {
			return filter.Int(i), nil
		}
		n, err := filter.Number(f.Text('f', -1))
		if err != nil {
			return filter.Value{}, fmt.Errorf("must be a decimal number: %w", err)
		}
		return n, nil
	}
	return filter.Value{}, fmt.Errorf("must be a string, number, bool or null, not %s", v.Type().FriendlyName())
}

// decodeTemplate decodes a template block; nil if its name is taken.
func (l *loader) decodeTemplate(b *hcl.Block) *Template {
	unique := l.declare("template", b)
	content, diags := b.Body.Content(templateSchema())
	l.diags = append(l.diags, diags...)
	tp := &Template{Name: b.Labels[0], DeclRange: b.DefRange}
	if a := content.Attributes["params"]; a != nil && !isNull(a.Expr) {
		items, _ := l.stringList(a)
		for _, it := range items {
			switch {
			case !filter.IsParamName(it.value):
				l.errorf(it.rng, "Invalid param name",
					"The param name %q must start with a letter or '_' and have only ASCII letters, digits and '_'.", it.value)
			case slices.Contains(tp.Params, it.value):
				l.errorf(it.rng, "Duplicate param", "Template %q declares param %q twice.", tp.Name, it.value)
			default:
				tp.Params = append(tp.Params, it.value)
			}
		}
	}
	tp.Tables = l.decodeTables(content.Blocks, tableOwner{kind: "template", name: tp.Name, params: tp.Params})
	if len(content.Blocks) == 0 {
		l.errorf(b.DefRange, "Template without tables", "Template %q has no table blocks.", tp.Name)
	}
	if !unique {
		return nil
	}
	l.templates[tp.Name] = tp
	return tp
}
