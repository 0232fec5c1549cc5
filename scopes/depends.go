package scopes

import (
	"slices"
	"strings"
)

// dependencies checks each scope's depends_on, once every scope is known:
// the scopes named exist and are not the scope itself, share a target
// with it (else the ordering has nothing to order: a warning), and no
// scope depends on itself through others (a cycle, reported once, at the
// depends_on element that closes it, with its path).
func (l *loader) dependencies() {
	byName := make(map[string]*scopeDecl, len(l.scopes))
	for _, d := range l.scopes {
		byName[d.scope.Name] = d
	}
	edges := map[string][]item{} // scope → its valid dependencies
	for _, d := range l.scopes {
		s := d.scope
		for i, it := range d.depends {
			dep := byName[it.value]
			switch {
			case slices.ContainsFunc(d.depends[:i], func(o item) bool { return o.value == it.value }):
				// reported by distinct
			case it.value == s.Name:
				l.errorf(it.rng, "Scope depends on itself", "Scope %q lists itself in depends_on.", s.Name)
			case dep == nil:
				if _, declared := l.declared["scope"][it.value]; !declared {
					l.reference("scope", it, s)
				} // else its name is taken twice, which is reported
			case !shareTarget(s, dep.scope):
				l.warnf(it.rng, "Dependency without a common target",
					"Scope %q depends on %q, but they share no target, so the dependency orders nothing: depends_on holds a scope back at each target until its dependencies have applied their initial snapshots there.",
					s.Name, it.value)
			default:
				edges[s.Name] = append(edges[s.Name], it)
			}
		}
	}
	l.cycles(edges)
}

func shareTarget(a, b *Scope) bool {
	for _, t := range a.Targets {
		if slices.Contains(b.Targets, t) {
			return true
		}
	}
	return false
}

// cycles reports each cycle of edges by a depth-first search in
// declaration order: an edge back to a scope on the search's path closes
// a cycle.
func (l *loader) cycles(edges map[string][]item) {
	const (
		unseen = iota
		onPath
		finished
	)
	state := map[string]int{}
	var path []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = onPath
		path = append(path, name)
		for _, it := range edges[name] {
			switch state[it.value] {
			case unseen:
				visit(it.value)
			case onPath:
				// The cycle is path from it.value on; write it from name,
				// whose depends_on closes it.
				loop := path[slices.Index(path, it.value):]
				cycle := append([]string{name}, loop[:len(loop)-1]...)
				cycle = append(cycle, name)
				l.errorf(it.rng, "Dependency cycle",
					"Scope %q depends on itself through depends_on: %s. Remove one of these dependencies.",
					name, strings.Join(cycle, " → "))
			}
		}
		path = path[:len(path)-1]
		state[name] = finished
	}
	for _, d := range l.scopes {
		if state[d.scope.Name] == unseen {
			visit(d.scope.Name)
		}
	}
}
