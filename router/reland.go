package router

import (
	"slices"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/mapping"
)

// relandColumns returns the target columns a backfill of st re-lands
// when a changed transform is all that tells st apart from rec's
// definition (mapping.Relanded): the backfill then sends each row's key
// and those columns only, and the targets update just them, leaving the
// rest of the row as it is. Nil: the backfill sends whole rows.
func relandColumns(st *scopes.Table, rec *snapshotRecord) []string {
	if rec == nil || rec.Def == nil || st.Mapping == nil || rec.Def.Mapping == "" {
		return nil
	}
	now := defOf(st)
	if now.Target != rec.Def.Target || now.Where != rec.Def.Where || !slices.Equal(now.Columns, rec.Def.Columns) {
		return nil
	}
	old, err := mapping.ParseDefinition([]byte(rec.Def.Mapping))
	if err != nil {
		return nil
	}
	return mapping.Relanded(old, st.Mapping)
}

// reland leaves out of m's new row every column but the key and cols,
// which the targets then update alone (the columns left out are listed
// as unchanged). With cols naming a key column it sends the whole row:
// the row's identity changed, and an update by the new key would find
// no row.
func (p *plan) reland(m *message, cols []string) {
	if m.after == nil || m.op != capture.OpRead || p.mapper == nil {
		return
	}
	if p.relandCols == nil || !slices.Equal(p.relandCols, cols) {
		p.relandCols, p.relandKeep = cols, make([]bool, len(p.out.Columns))
		for i, c := range p.out.Columns {
			p.relandKeep[i] = slices.Contains(cols, c.Name)
		}
		for _, k := range p.outKey {
			if p.relandKeep[k] {
				p.relandKeep = nil // a key column re-landed: whole rows
				break
			}
			p.relandKeep[k] = true
		}
	}
	if p.relandKeep == nil {
		return
	}
	for i, keep := range p.relandKeep {
		if !keep {
			m.after[i] = capture.Absent
		}
	}
}
