package scopes

import (
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/syncd-dev/syncd/scopes/mapping"
)

func mappingSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "auto"}, {Name: "drop"}, {Name: "hash_key"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "column", LabelNames: []string{"name"}}},
	}
}

func mappingColumnSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "from"}, {Name: "expr"}, {Name: "type"}, {Name: "injective"}},
	}
}

// decodeMapping decodes a table's mapping block: the syntax of every
// expression and the functions it calls are checked here, its column
// names and types when the scope starts (mapping.Compile).
func (l *loader) decodeMapping(b *hcl.Block, table string, owner tableOwner) *mapping.Spec {
	content, diags := b.Body.Content(mappingSchema())
	l.diags = append(l.diags, diags...)
	attrs := content.Attributes
	s := &mapping.Spec{Auto: mapping.AutoExact}
	l.oneOf(attrs, "auto", &s.Auto, mapping.AutoExact, mapping.AutoFold, mapping.AutoNone)
	if a := attrs["drop"]; a != nil && !isNull(a.Expr) {
		items, _ := l.stringList(a)
		for _, it := range items {
			s.Drop = append(s.Drop, it.value)
		}
	}
	if a := attrs["hash_key"]; a != nil && !isNull(a.Expr) {
		// A secret syncd validate cannot read is "" with a warning:
		// its length is not checked then.
		if v, substituted, ok := l.value(a.Expr); ok && v.Type() == cty.String {
			key := v.AsString()
			if len(key) < 16 && !substituted {
				l.errorf(a.Expr.Range(), "Short hash key",
					"The hash_key of table %q in %s must be at least 16 bytes; read it with env(...) or file(...).", table, owner)
			}
			s.HashKey = []byte(key)
		} else if ok {
			l.errorf(a.Expr.Range(), "Invalid hash_key", "The hash_key of table %q in %s must be a string.", table, owner)
		}
	}
	// Columns whose attributes did not decode are left out of Check,
	// which would take them for what they are not.
	checked := &mapping.Spec{Auto: s.Auto, Drop: s.Drop}
	var ranges []hcl.Range
	for _, cb := range content.Blocks {
		c, valid := l.decodeMappingColumn(cb, table, owner)
		s.Columns = append(s.Columns, c)
		if valid {
			checked.Columns = append(checked.Columns, c)
			ranges = append(ranges, cb.DefRange)
		}
	}
	for _, ce := range checked.Check() {
		l.errorf(ranges[ce.Column], "Invalid mapping column", "In the mapping of table %q in %s, %s.", table, owner, ce.Err)
	}
	return s
}

func (l *loader) decodeMappingColumn(b *hcl.Block, table string, owner tableOwner) (mapping.Column, bool) {
	content, diags := b.Body.Content(mappingColumnSchema())
	l.diags = append(l.diags, diags...)
	attrs := content.Attributes
	c := mapping.Column{Name: b.Labels[0], Pos: fmt.Sprintf("%s:%d:%d", b.DefRange.Filename, b.DefRange.Start.Line, b.DefRange.Start.Column)}
	ok := !diags.HasErrors()
	ok = (attrs["from"] == nil || l.decode(attrs, "from", &c.From)) && ok
	ok = (attrs["type"] == nil || l.decode(attrs, "type", &c.Type)) && ok
	ok = (attrs["injective"] == nil || l.decode(attrs, "injective", &c.Injective)) && ok
	a := attrs["expr"]
	if a == nil || isNull(a.Expr) {
		return c, ok
	}
	var src string
	if !l.decodeExpr(a.Expr, &src) {
		return c, false
	}
	e, err := mapping.Parse(src)
	if err != nil {
		var se *mapping.SyntaxError
		if !errors.As(err, &se) {
			se = &mapping.SyntaxError{Msg: err.Error()}
		}
		l.errorf(l.charRange(a.Expr, src, se.Offset(src)), "Invalid expression",
			"The expression of column %q of table %q in %s is invalid: %s.", c.Name, table, owner, se.Msg)
		return c, false
	}
	c.Expr = e
	return c, ok
}
