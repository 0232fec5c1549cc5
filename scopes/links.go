package scopes

// Links between databases: a target that is the same database as a
// source (same_as) makes the scopes between them two-way.

// links checks the same_as attributes of targets: each names a source of
// the target's kind; no scope is applied to the database it reads; and
// the databases linked by scopes form no cycle of three or more, round
// which a change would travel for ever (see capture.SyncdOrigin).
func (l *loader) links(cfg *Config) {
	if cfg == nil {
		return
	}
	for _, t := range cfg.Targets {
		if t.SameAs == "" {
			continue
		}
		s := cfg.Source(t.SameAs)
		switch {
		case s == nil:
			l.errorf(t.SameAsRange, "Unknown source",
				"Target %q is declared the same database as source %q, which is not defined.", t.Name, t.SameAs)
		case s.Kind != t.Kind:
			l.errorf(t.SameAsRange, "Different engines",
				"Target %q is a %s database, but source %q, which it is declared the same as, is a %s one.", t.Name, t.Kind, s.Name, s.Kind)
		}
	}
	// Union-find over the databases: a link between two databases
	// already connected closes a cycle. A pair linked both ways is one
	// link.
	parent := map[string]string{}
	var root func(string) string
	root = func(x string) string {
		p, ok := parent[x]
		if !ok || p == x {
			return x
		}
		r := root(p)
		parent[x] = r
		return r
	}
	seen := map[[2]string]bool{}
	for _, sc := range cfg.Scopes {
		for _, name := range sc.Targets {
			t := cfg.Target(name)
			if t == nil || t.SameAs == "" {
				continue
			}
			if t.SameAs == sc.Source {
				l.errorf(sc.DeclRange, "Scope applied to its own source",
					"Scope %q reads source %q and is applied to target %q, which is the same database (same_as); remove the target from the scope.", sc.Name, sc.Source, t.Name)
				continue
			}
			link := [2]string{min(sc.Source, t.SameAs), max(sc.Source, t.SameAs)}
			if seen[link] {
				continue
			}
			seen[link] = true
			ra, rb := root(link[0]), root(link[1])
			if ra == rb {
				l.errorf(sc.DeclRange, "Cycle of linked databases",
					"Scope %q links source %q to target %q (the same database as source %q), which are linked already through other scopes: a change would travel round the cycle for ever. Link the databases as a tree (a pair, or a hub with spokes).", sc.Name, sc.Source, t.Name, t.SameAs)
				continue
			}
			parent[ra] = rb
		}
	}
}

// TwoWay reports whether scope s is two-way: a target of s is the same
// database as the source of a scope that a target of is the same
// database as s's source.
func (c *Config) TwoWay(s *Scope) bool {
	for _, o := range c.Scopes {
		if o != s && c.reaches(o, s.Source) && c.reaches(s, o.Source) {
			return true
		}
	}
	return false
}

// EchoSource returns the source that every target of scope s is the same
// database as, or "": the changes that came from that source are echoes
// for s, which no target of s takes (see capture.SyncdOrigin).
func (c *Config) EchoSource(s *Scope) string {
	echo := ""
	for i, name := range s.Targets {
		t := c.Target(name)
		if t == nil || t.SameAs == "" || i > 0 && t.SameAs != echo {
			return ""
		}
		echo = t.SameAs
	}
	return echo
}
