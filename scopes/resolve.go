package scopes

import (
	"maps"
	"slices"

	"github.com/syncd-dev/syncd/scopes/filter"
)

// resolve checks the references of scopes to sources, targets and
// templates, once every block is decoded, and instantiates templates.
func (l *loader) resolve() {
	for _, d := range l.scopes {
		s := d.scope
		if d.source.rng.Filename != "" { // the source attribute decoded
			l.reference("source", d.source, s)
		}
		for _, t := range d.targets {
			l.reference("target", t, s)
		}
		if d.template.value != "" {
			l.instantiate(d)
		}
	}
	l.dependencies()
}

// reference checks that the kind named by it is defined.
func (l *loader) reference(kind string, it item, s *Scope) {
	defined := l.declared[kind]
	if _, ok := defined[it.value]; ok {
		return
	}
	names := slices.Sorted(maps.Keys(defined))
	if len(names) == 0 {
		l.errorf(it.rng, "Unknown "+kind, "Scope %q refers to %s %q, but no %ss are defined.", s.Name, kind, it.value, kind)
		return
	}
	l.errorf(it.rng, "Unknown "+kind, "Scope %q refers to %s %q, which is not defined; defined %ss: %s.",
		s.Name, kind, it.value, kind, quotedList(names, "and"))
}

// instantiate gives a scope its own copies of its template's tables, with
// their filters bound to the scope's params, after checking that the params
// are exactly the template's.
func (l *loader) instantiate(d *scopeDecl) {
	s := d.scope
	tp := l.templates[s.Template]
	if tp == nil {
		if _, declared := l.declared["template"][s.Template]; !declared {
			l.reference("template", d.template, s)
		}
		return // else its name is taken twice, which is reported
	}
	ok := true
	s.Params = make(map[string]filter.Value, len(d.values))
	for _, v := range d.values {
		switch {
		case !slices.Contains(tp.Params, v.name) && len(tp.Params) == 0:
			l.errorf(v.keyRange, "Unknown param", "Template %q has no params, so %q cannot be set.", tp.Name, v.name)
		case !slices.Contains(tp.Params, v.name):
			l.errorf(v.keyRange, "Unknown param", "Template %q has no param %q; its params are %s.",
				tp.Name, v.name, quotedList(tp.Params, "and"))
		case v.valid:
			s.Params[v.name] = v.value
			continue
		}
		ok = false
	}
	paramsRange := s.DeclRange
	if d.params != nil {
		paramsRange = d.params.Expr.Range()
	}
	for _, name := range tp.Params {
		if _, set := s.Params[name]; !set && !d.invalid(name) {
			ok = false
			l.errorf(paramsRange, "Missing param", "Scope %q must set param %q of template %q in its params.",
				s.Name, name, tp.Name)
		}
	}
	if !ok {
		return
	}
	for _, tt := range tp.Tables {
		t := &Table{Scope: s, ID: tt.ID, Columns: slices.Clone(tt.Columns), Mapping: tt.Mapping, Target: tt.Target, DeclRange: tt.DeclRange}
		if tt.Where != nil {
			where, err := tt.Where.Bind(s.Params)
			if err != nil {
				l.errorf(paramsRange, "Invalid param value", "Table %q of template %q: %v.", tt.ID, tp.Name, err)
				continue
			}
			t.Where = where
		}
		s.Tables = append(s.Tables, t)
	}
}
