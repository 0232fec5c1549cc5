package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

var _ capture.TableCopier = (*Router)(nil)

// CopyAgain implements capture.TableCopier, for a source whose log lost
// the changes of some tables alone (SQL Server change tracking). Every
// scope covering them must have snapshot = "when_needed"; the source's
// other scopes are not asked. Each target of those scopes then gets a
// copy of each table of its own, as a target added to the scope or
// `syncd resync` does: in one target transaction the target deletes the
// table's rows and writes the source's rows in scope, so the rows the
// lost changes deleted go, those they wrote come, no TRUNCATE locks the
// table's readers out, and the scope's other tables are not sent again.
// The table's snapshot record stops naming the targets as holding its
// copy before the copies are made pending, so a restart before they are
// done takes them (loadTargets), and a source that records its position
// only after CopyAgain returns never skips the lost changes unrepaired.
// A table whose first copy is still pending needs nothing more; one
// without a snapshot record is copied afresh, after a truncate.
func (r *Router) CopyAgain(ctx context.Context, tables []capture.TableID, lost error) error {
	type part struct {
		s  *scopes.Scope
		st *scopes.Table
	}
	var parts []part
	var refuse []string
	for _, s := range r.scopes {
		for _, st := range s.Tables {
			if !slices.Contains(tables, st.ID) {
				continue
			}
			if s.Snapshot != scopes.SnapshotWhenNeeded {
				refuse = append(refuse, fmt.Sprintf("%s (snapshot = %q)", s.Name, s.Snapshot))
				break
			}
			parts = append(parts, part{s, st})
		}
	}
	if len(refuse) > 0 {
		return fmt.Errorf("scopes that do not allow copying the tables again: %s; with snapshot = %q on every scope covering them, syncd would copy them again to each target", strings.Join(refuse, ", "), scopes.SnapshotWhenNeeded)
	}
	copies := 0
	for _, p := range parts {
		n, err := r.copyAgain(ctx, p.s, p.st)
		if err != nil {
			return err
		}
		copies += n
	}
	r.log.Warn("copying again, to each target of their scopes, the tables whose changes are lost; the other tables stream on", "cause", lost, "tables", tables, "copies", copies)
	return nil
}

// copyAgain makes pending a copy of st for each target of s, and returns
// how many copies are pending for it (see CopyAgain).
func (r *Router) copyAgain(ctx context.Context, s *scopes.Scope, st *scopes.Table) (int, error) {
	k := tableKey{scope: s.Name, table: st.ID}
	if p := r.pending[k]; p != nil && p.req.Truncate && p.req.Resume == nil {
		return 1, nil // a first copy, not begun: it replaces the rows
	}
	e, err := r.snapshots.Get(ctx, k.kv())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		req, _, err := r.snapshotRequest(s, st, nil)
		if err != nil {
			return 0, err
		}
		r.pending[k] = &pendingSnapshot{req: req, hash: definitionHash(st), def: defOf(st), targets: append([]string{}, s.Targets...)}
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read snapshot state of %s in scope %s: %w", st.ID, s.Name, err)
	}
	var rec snapshotRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return 0, fmt.Errorf("read snapshot state of %s in scope %s: %w", st.ID, s.Name, err)
	}
	if rec.Targets == nil || len(rec.Targets) > 0 {
		rec.Targets = []string{}
		if _, err := r.snapshots.Update(ctx, k.kv(), mustJSON(rec), e.Revision()); err != nil {
			return 0, fmt.Errorf("record that the targets of scope %s are to get %s again: %w", s.Name, st.ID, err)
		}
	}
	// A copy for every target still to come (a scope change's
	// difference) records the targets it reached when done: none hold
	// the table whole until their own copy.
	for _, p := range []*pendingSnapshot{r.pending[k], r.taken[k]} {
		if p != nil {
			p.targets = []string{}
		}
	}
	for _, t := range s.Targets {
		if _, err := r.addTargetCopy(s, st, t); err != nil {
			return 0, err
		}
	}
	return len(s.Targets), nil
}
