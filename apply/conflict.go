package apply

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// Conflict kinds: what the target's row was when a change of a two-way
// scope came.
const (
	InsertExists  = "insert_exists"  // an insert whose key the target holds, with other values
	UpdateDiffers = "update_differs" // an update whose old row differs from the target's
	UpdateMissing = "update_missing" // an update of a row the target does not hold
	DeleteDiffers = "delete_differs" // a delete whose old row differs from the target's
	DeleteMissing = "delete_missing" // a delete of a row the target does not hold
)

// Outcomes of a conflict.
const (
	SourceApplied = "source_applied" // the change was applied over the target's row
	TargetKept    = "target_kept"    // the target's row was kept
	Parked        = "parked"         // kept, and left for a person to settle
)

// Prober is the Tx of a target that can detect conflicts: it reads the
// target's row of a change's key inside the transaction.
type Prober interface {
	// Probe applies what the transaction has queued, then reads the
	// target's row of c's key: the new key of an insert, the old key of
	// an update or delete. column, if not "", is compared with c's new
	// value of it (scopes.ConflictNewestColumn); else, if c.Committed is
	// set (scopes.ConflictNewerWins), the commit time of the row's last
	// change is compared with it, a row without one being older. An
	// error ends the
	// transaction, as Apply's do.
	Probe(ctx context.Context, c *Change, column string) (Probe, error)
}

// ProbeKey returns the value of key column name of the row a change
// meets at the target: the new key of an insert (After's, or Key's), the
// old key of an update or delete (Before's, or Key's); an InvalidError if
// neither has it.
func (c *Change) ProbeKey(name string) (json.RawMessage, error) {
	row := c.Before
	if c.Op == capture.OpInsert || c.Op == capture.OpRead {
		row = c.After
	}
	if raw, ok := row[name]; ok {
		return raw, nil
	}
	if raw, ok := c.Key[name]; ok {
		return raw, nil
	}
	return nil, &InvalidError{Column: name, Err: errors.New("key column missing")}
}

// Probe is the target's row of a change's key.
type Probe struct {
	Found bool // the target holds a row of the key
	// Base: the row equals the change's old row on the columns the old
	// row holds (true for an insert). New: it equals the change's new
	// row on the columns the change writes (false for a delete).
	Base, New bool
	// Newer compares the change's value of the policy's column with the
	// row's: 1 greater, -1 less, 0 equal or either NULL; under
	// newer_wins, the change's commit time with that of the row's last
	// change the same way.
	Newer int
	Row   json.RawMessage // the row, as JSON, for the record
	// Written: the probe wrote the change already (an insert whose key
	// the target did not hold, InsertProber), so it is not applied again.
	Written bool
}

// Classify returns the kind of conflict c meets at a target whose row
// of its key is p, or "" if none: the row is the one the change
// expects, or already the one it writes.
func Classify(c *Change, p Probe) string {
	switch c.Op {
	case capture.OpInsert, capture.OpRead:
		if p.Found && !p.New {
			return InsertExists
		}
	case capture.OpUpdate:
		switch {
		case !p.Found:
			return UpdateMissing
		case !p.Base && !p.New:
			return UpdateDiffers
		}
	case capture.OpDelete:
		switch {
		case !p.Found:
			return DeleteMissing
		case !p.Base:
			return DeleteDiffers
		}
	}
	return ""
}

// Resolve settles a conflict of kind met by c under policy pol, and
// reports whether to apply c. sourceFirst says whether c's source wins
// ties (newest_column, newer_wins): its name sorts before that of the target's
// database, the same order on both sides of a pair.
//
// The rules keep both sides of a pair converging once writes stop, when
// their scopes' policies agree (scopes.checkPolicies): source_wins one
// way is target_wins the other; newest_column keeps the greater value
// and newer_wins the later commit,
// the tie to the same database on both sides, and a delete beats an
// update; park keeps each side's row, for a person to settle.
func Resolve(pol scopes.Conflicts, kind string, c *Change, p Probe, sourceFirst bool) (apply bool, outcome string) {
	switch pol.Policy {
	case scopes.ConflictSourceWins:
		if kind == UpdateMissing && len(c.Unchanged) > 0 {
			return false, TargetKept // the change lacks values to insert the row with
		}
		return true, SourceApplied
	case scopes.ConflictNewestColumn, scopes.ConflictNewerWins:
		switch kind {
		case UpdateMissing:
			return false, TargetKept // deleted at the target: a delete beats an update
		case DeleteDiffers, DeleteMissing:
			return true, SourceApplied
		}
		if p.Newer > 0 || p.Newer == 0 && sourceFirst {
			return true, SourceApplied
		}
		return false, TargetKept
	case scopes.ConflictPark:
		return false, Parked
	}
	return false, TargetKept // target_wins
}
