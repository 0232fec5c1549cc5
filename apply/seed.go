package apply

import (
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// RuleSeed is the rule of the conflicts settled by a two-way scope's
// seed rule (scopes.Scope.Seed) rather than its conflict policy.
const RuleSeed = "seed"

// SeedRule settles a conflict met by c, a row of the first copy of
// two-way scope sc (a read: the copies of a two-way scope keep the
// target's rows), by the scope's seed rule: the row of the database the
// seed names wins, at both sides of the pair, since the scope the other
// way names the same. It reports ok false where the seed rule does not
// apply: c is no read, the scope has no seed, or the seed is
// scopes.SeedMerge (the conflict policy settles it, as any conflict).
func SeedRule(sc *scopes.Scope, c *Change) (apply bool, outcome string, ok bool) {
	if c.Op != capture.OpRead || sc.Seed == "" || sc.Seed == scopes.SeedMerge {
		return false, "", false
	}
	if sc.Source == sc.Seed {
		return true, SourceApplied, true
	}
	return false, TargetKept, true
}
