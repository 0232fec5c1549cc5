package scopes

// SeedMerge is the seed rule that settles the rows both databases of a
// two-way pair hold with other values at the first start by the
// conflict policy of their table, as a conflict of kind insert_exists.
const SeedMerge = "merge"

// checkSeed checks scope s's seed rule. A two-way scope with a snapshot
// needs one: its initial copy is then sent without emptying the target's
// tables (the rows only the target holds stay, and reach the other side
// through the scope the other way), and the rows both hold with other
// values keep the values of the database seed names, a source of the
// pair, or the conflict policy's choice (SeedMerge). The two scopes of a
// pair must name the same rule, so that both sides keep the same row.
// A seed is refused where it has no use: a one-way scope, or
// snapshot = "never".
func (l *loader) checkSeed(cfg *Config, s *Scope) {
	twoWay := cfg.TwoWay(s)
	switch {
	case s.Seed == "" && twoWay && s.Snapshot != SnapshotNever:
		l.errorf(s.DeclRange, "Two-way scope with a snapshot and no seed",
			"Scope %q syncs both ways and copies its tables at the first start, when both databases may hold rows: set seed to the source whose rows win where both hold a key with other values (%q or the other side's), or to %q to settle them by the conflict policy; or set snapshot = \"never\" to start from tables that agree.",
			s.Name, s.Source, SeedMerge)
	case s.Seed == "":
	case !twoWay:
		l.errorf(s.SeedRange, "Seed in a one-way scope",
			"Scope %q does not sync both ways, and seed says how the two sides of a two-way scope are merged at the first start: remove it.", s.Name)
	case s.Snapshot == SnapshotNever:
		l.errorf(s.SeedRange, "Seed without a snapshot",
			"Scope %q has snapshot = \"never\", so nothing is copied at the first start and seed has no use: remove it, or set snapshot = %q.", s.Name, SnapshotInitial)
	case s.Seed != SeedMerge && s.Seed != s.Source && !cfg.reaches(s, s.Seed):
		l.errorf(s.SeedRange, "Unknown seed",
			"Scope %q syncs source %q both ways: seed must name it or the source its target is the same database as, or be %q; not %q.", s.Name, s.Source, SeedMerge, s.Seed)
	default:
		for _, back := range cfg.Scopes {
			if back.Name < s.Name && cfg.reaches(back, s.Source) && cfg.reaches(s, back.Source) && back.Seed != "" && back.Seed != s.Seed {
				l.errorf(s.SeedRange, "Seed rules disagree",
					"Scopes %q and %q sync both ways with seed %q and %q: the sides would keep different rows. Use the same seed in both.", back.Name, s.Name, back.Seed, s.Seed)
			}
		}
	}
}
