package scopes

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/syncd-dev/syncd/capture"
)

// Conflict policies of two-way scopes (docs/configuration.md, Two-way
// sync). Each keeps both sides converging once writes stop, provided the
// two scopes of a pair agree (checkPolicies).
const (
	// ConflictSourceWins applies the incoming change over the target's row.
	ConflictSourceWins = "source_wins"
	// ConflictTargetWins keeps the target's row.
	ConflictTargetWins = "target_wins"
	// ConflictNewestColumn keeps the row whose Column is greater; a tie
	// goes to the database whose source name sorts first. A delete beats
	// an update.
	ConflictNewestColumn = "newest_column"
	// ConflictNewerWins keeps the row whose last change committed later
	// at its source (the source commit time in the envelope against the
	// commit time PostgreSQL's track_commit_timestamp keeps of the
	// target row's last change); a tie goes to the database whose source
	// name sorts first. A delete beats an update. PostgreSQL only: MySQL
	// and MariaDB keep no commit time per row.
	ConflictNewerWins = "newer_wins"
	// ConflictPark keeps the target's row and records the conflict for a
	// person: the sides differ until someone settles it.
	ConflictPark = "park"
)

// Conflicts is a conflict policy.
type Conflicts struct {
	Policy string // one of the Conflict constants, or "" for none set
	Column string // ConflictNewestColumn's column
	// Range is the conflicts attribute's range; zero when unset.
	Range hcl.Range
}

// String describes the policy for messages: "source_wins", or
// "newest_column" on updated_at.
func (c Conflicts) String() string {
	if c.Column != "" {
		return fmt.Sprintf("%q on %s", c.Policy, c.Column)
	}
	return fmt.Sprintf("%q", c.Policy)
}

// conflicts decodes the conflicts and conflict_column attributes of a
// scope or table block.
func (l *loader) conflicts(attrs hcl.Attributes) Conflicts {
	var c Conflicts
	l.oneOf(attrs, "conflicts", &c.Policy, ConflictSourceWins, ConflictTargetWins, ConflictNewerWins, ConflictNewestColumn, ConflictPark)
	if a := attrs["conflicts"]; a != nil {
		c.Range = a.Expr.Range()
	}
	l.decode(attrs, "conflict_column", &c.Column)
	switch {
	case c.Policy == ConflictNewestColumn && c.Column == "":
		l.errorf(c.Range, "Missing conflict_column",
			"The newest_column policy compares a column, such as updated_at: set conflict_column.")
	case c.Policy != ConflictNewestColumn && c.Column != "":
		l.errorf(attrs["conflict_column"].NameRange, "Unused conflict_column",
			"The conflict_column is for conflicts = \"newest_column\".")
	}
	return c
}

// ConflictsOf returns the conflict policy of table t of scope s: the
// table's own, or the scope's.
func ConflictsOf(s *Scope, t *Table) Conflicts {
	if t != nil && t.Conflicts.Policy != "" {
		return t.Conflicts
	}
	return s.Conflicts
}

// checkPolicies checks two-way scopes: each has a seed rule if it has a
// snapshot (checkSeeds), a reverse for each mapping (reverseMappings) and
// a conflict policy, and the two scopes of a pair agree on which side
// wins, table by table (source_wins one way is target_wins the other).
func (l *loader) checkPolicies(cfg *Config) {
	for _, s := range cfg.Scopes {
		l.checkSeed(cfg, s)
		if !cfg.TwoWay(s) {
			continue
		}
		l.reverseMappings(cfg, s)
		if s.Conflicts.Policy == "" {
			l.errorf(s.DeclRange, "Two-way scope without a conflict policy",
				"Scope %q syncs both ways: set conflicts to %q, %q, %q, %q or %q (docs/configuration.md, Two-way sync).",
				s.Name, ConflictSourceWins, ConflictTargetWins, ConflictNewerWins, ConflictNewestColumn, ConflictPark)
			continue
		}
		l.checkNewerWins(cfg, s)
		for _, back := range cfg.Scopes {
			if back.Name <= s.Name || !cfg.reaches(back, s.Source) || !cfg.reaches(s, back.Source) || back.Conflicts.Policy == "" {
				continue
			}
			for _, t := range s.Tables {
				bt := tableTo(back, t.ID)
				if bt == nil {
					continue
				}
				p, q := ConflictsOf(s, t), ConflictsOf(back, bt)
				if !agree(p.Policy, q.Policy) || p.Column != q.Column {
					l.errorf(s.DeclRange, "Conflict policies disagree",
						"Scopes %q and %q sync table %s both ways, with conflicts %s and %s: the sides would not converge. Use the same policy both ways, or source_wins one way and target_wins the other.",
						s.Name, back.Name, t.ID, p, q)
				}
			}
		}
	}
}

// reverseMappings gives each mapped table of two-way scope s its way
// back: the table of the scope syncing back into it (the one whose
// target is the table) declares the reverse mapping in its own mapping
// block, or, without one, gets the inverse of a mapping that only
// renames (mapping.Spec.Inverse). A mapping that cannot be inverted
// without a declared reverse is an error: the changes coming back would
// reach the source in the target's columns.
func (l *loader) reverseMappings(cfg *Config, s *Scope) {
	for _, back := range cfg.Scopes {
		if back == s || !cfg.reaches(back, s.Source) || !cfg.reaches(s, back.Source) {
			continue
		}
		for _, t := range s.Tables {
			bt := tableTo(back, t.ID)
			if t.Mapping == nil || bt == nil || bt.Mapping != nil {
				continue
			}
			if inv := t.Mapping.Inverse(); inv != nil && bt.Columns == nil {
				bt.Mapping = inv
				continue
			}
			l.errorf(t.DeclRange, "Mapping in a two-way scope without a reverse",
				"Scope %q maps table %s to %s, and scope %q syncs it back, but the mapping computes, drops or folds columns, which cannot be inverted: declare the reverse in a mapping block of table %s in scope %q (docs/configuration.md, Two-way sync).",
				s.Name, t.ID, t.Target, back.Name, bt.ID, back.Name)
		}
	}
}

// agree reports whether policies p and q of the two scopes of a pair
// make both sides keep the same row.
func agree(p, q string) bool {
	switch p {
	case ConflictSourceWins:
		return q == ConflictTargetWins
	case ConflictTargetWins:
		return q == ConflictSourceWins
	}
	return p == q
}

// reaches reports whether a target of s is the same database as source.
func (c *Config) reaches(s *Scope, source string) bool {
	for _, name := range s.Targets {
		if t := c.Target(name); t != nil && t.SameAs == source {
			return true
		}
	}
	return false
}

// tableTo returns the table of s that writes to id, or nil.
func tableTo(s *Scope, id capture.TableID) *Table {
	for _, t := range s.Tables {
		if t.Target == id {
			return t
		}
	}
	return nil
}

// checkNewerWins refuses newer_wins in two-way scope s unless its source
// and targets are PostgreSQL: the policy compares the commit time of the
// target row's last change, which PostgreSQL keeps (track_commit_timestamp)
// and MySQL and MariaDB do not.
func (l *loader) checkNewerWins(cfg *Config, s *Scope) {
	uses := s.Conflicts.Policy == ConflictNewerWins
	rng := s.Conflicts.Range
	for _, t := range s.Tables {
		if t.Conflicts.Policy == ConflictNewerWins {
			uses, rng = true, t.Conflicts.Range
			break
		}
	}
	if !uses {
		return
	}
	var what, kind string
	if src := cfg.Source(s.Source); src != nil && src.Kind != KindPostgres {
		what, kind = "source "+src.Name, src.Kind
	}
	for _, name := range s.Targets {
		if t := cfg.Target(name); t != nil && t.Kind != KindPostgres && what == "" {
			what, kind = "target "+t.Name, t.Kind
		}
	}
	if what != "" {
		l.errorf(rng, "newer_wins needs PostgreSQL",
			"Scope %q resolves conflicts with newer_wins, which compares the commit time of each row's last change; %s is %s, which keeps no commit time per row. Use newest_column with a column the writers set, such as updated_at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6).", s.Name, what, kind)
	}
}
