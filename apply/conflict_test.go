package apply

import (
	"encoding/json"
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

func TestClassify(t *testing.T) {
	row := map[string]json.RawMessage{"id": json.RawMessage(`1`)}
	tests := []struct {
		name string
		op   capture.Op
		p    Probe
		want string
	}{
		{"insert of a new key", capture.OpInsert, Probe{}, ""},
		{"insert of a key held with the same row", capture.OpInsert, Probe{Found: true, New: true}, ""},
		{"insert of a key held with another row", capture.OpInsert, Probe{Found: true}, InsertExists},
		{"update of the expected row", capture.OpUpdate, Probe{Found: true, Base: true}, ""},
		{"update the target made already", capture.OpUpdate, Probe{Found: true, New: true}, ""},
		{"update of a changed row", capture.OpUpdate, Probe{Found: true}, UpdateDiffers},
		{"update of a missing row", capture.OpUpdate, Probe{}, UpdateMissing},
		{"delete of the expected row", capture.OpDelete, Probe{Found: true, Base: true}, ""},
		{"delete of a changed row", capture.OpDelete, Probe{Found: true}, DeleteDiffers},
		{"delete of a missing row", capture.OpDelete, Probe{}, DeleteMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Change{Op: tt.op, Before: row, After: row}
			if got := Classify(c, tt.p); got != tt.want {
				t.Errorf("Classify = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestResolveConverges checks, for each policy, that the two sides of a
// pair keep the same row: side a applies b's change under policy pa,
// side b applies a's under pb.
func TestResolveConverges(t *testing.T) {
	newest := scopes.Conflicts{Policy: scopes.ConflictNewestColumn, Column: "n"}
	newer := scopes.Conflicts{Policy: scopes.ConflictNewerWins}
	tests := []struct {
		name         string
		pa, pb       scopes.Conflicts // ba's (at a) and ab's (at b)
		kindA, kindB string           // the conflict each side meets
		newerA       int              // b's value of n against a's, as side a sees it
		want         string           // whose row both keep: "a", "b" or "none" (deleted)
	}{
		{"a wins update/update", scopes.Conflicts{Policy: scopes.ConflictTargetWins}, scopes.Conflicts{Policy: scopes.ConflictSourceWins}, UpdateDiffers, UpdateDiffers, 0, "a"},
		{"newest update/update, b newer", newest, newest, UpdateDiffers, UpdateDiffers, 1, "b"},
		{"newest update/update, a newer", newest, newest, UpdateDiffers, UpdateDiffers, -1, "a"},
		{"newest update/update, tie to a", newest, newest, UpdateDiffers, UpdateDiffers, 0, "a"},
		{"newest insert/insert, b newer", newest, newest, InsertExists, InsertExists, 1, "b"},
		// a deleted, b updated: a meets b's update of its deleted row,
		// b meets a's delete of its changed row.
		{"newest delete/update", newest, newest, UpdateMissing, DeleteDiffers, 1, "none"},
		{"newer update/update, b later", newer, newer, UpdateDiffers, UpdateDiffers, 1, "b"},
		{"newer update/update, a later", newer, newer, UpdateDiffers, UpdateDiffers, -1, "a"},
		{"newer update/update, tie to a", newer, newer, UpdateDiffers, UpdateDiffers, 0, "a"},
		{"newer insert/insert, a later", newer, newer, InsertExists, InsertExists, -1, "a"},
		{"newer delete/update", newer, newer, UpdateMissing, DeleteDiffers, 1, "none"},
		{"a wins delete/update", scopes.Conflicts{Policy: scopes.ConflictTargetWins}, scopes.Conflicts{Policy: scopes.ConflictSourceWins}, UpdateMissing, DeleteDiffers, 0, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Change{Op: capture.OpUpdate}
			// side a: b's change arrives; "a" < "b", so b's source does
			// not win ties at a.
			applyA, _ := Resolve(tt.pa, tt.kindA, c, Probe{Newer: tt.newerA}, false)
			applyB, _ := Resolve(tt.pb, tt.kindB, c, Probe{Newer: -tt.newerA}, true)
			rowA, rowB := "a", "b" // what each side holds after its own write
			if tt.kindA == UpdateMissing {
				rowA = "none"
			}
			if applyA {
				rowA = "b"
			}
			if applyB {
				rowB = "a"
				if tt.kindB == DeleteDiffers {
					rowB = "none"
				}
			}
			if rowA != tt.want || rowB != tt.want {
				t.Errorf("a holds %s's row, b %s's; want both %s's", rowA, rowB, tt.want)
			}
		})
	}
}

func TestResolvePark(t *testing.T) {
	apply, outcome := Resolve(scopes.Conflicts{Policy: scopes.ConflictPark}, UpdateDiffers, &Change{Op: capture.OpUpdate}, Probe{}, true)
	if apply || outcome != Parked {
		t.Errorf("park: apply %v, outcome %s", apply, outcome)
	}
}

// TestSeedRule: a row of a two-way scope's first copy that meets another
// row keeps the seed's row at both sides; merge, a change that is no
// copied row, and a scope without a seed leave it to the policy.
func TestSeedRule(t *testing.T) {
	ab := &scopes.Scope{Source: "a", Seed: "a"}
	ba := &scopes.Scope{Source: "b", Seed: "a"}
	read := &Change{Op: capture.OpRead}
	if apply, outcome, ok := SeedRule(ab, read); !ok || !apply || outcome != SourceApplied {
		t.Errorf("a's row at b: apply %v, outcome %s, ok %v; want a's applied", apply, outcome, ok)
	}
	if apply, outcome, ok := SeedRule(ba, read); !ok || apply || outcome != TargetKept {
		t.Errorf("b's row at a: apply %v, outcome %s, ok %v; want a's kept", apply, outcome, ok)
	}
	for name, tc := range map[string]struct {
		sc *scopes.Scope
		c  *Change
	}{
		"merge":   {&scopes.Scope{Source: "a", Seed: scopes.SeedMerge}, read},
		"no seed": {&scopes.Scope{Source: "a"}, read},
		"insert":  {ab, &Change{Op: capture.OpInsert}},
	} {
		if _, _, ok := SeedRule(tc.sc, tc.c); ok {
			t.Errorf("%s: settled by the seed rule", name)
		}
	}
}
