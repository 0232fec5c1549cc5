package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// A target with removed_tables = "empty" (scopes.RemovedEmpty) empties the
// target tables whose scope table left the config. The point at which it
// does so is the target transaction that first records, in the scope's
// scope_info row, a definition without the table: the rows are deleted in
// that same transaction. So it happens exactly once: a crash before the
// commit leaves the old definition recorded, and the next start empties
// the table; after the commit the recorded definition no longer has the
// table, and no start empties it again, even once it is back in the
// config and copied afresh.

// Emptied is one target table emptied because its scope table left the
// config.
type Emptied struct {
	Table  capture.TableID // the source table, as the scope had it
	Target capture.TableID // the target table emptied
}

// RemovedTables returns the tables of old, a definition a target recorded
// (scopes.ParseDefinition), that cur (the scope in the config; a scope
// with no tables if the config no longer has it) no longer has, and whose
// target table is written neither by cur nor by another scope of the
// config at the target (shared). Those are the tables a target with
// removed_tables = "empty" empties. Each is returned once per target
// table, in old's order.
func RemovedTables(old, cur *scopes.Scope, shared func(capture.TableID) bool) []Emptied {
	in := make(map[capture.TableID]bool, len(cur.Tables))
	written := make(map[capture.TableID]bool, len(cur.Tables))
	for _, t := range cur.Tables {
		in[t.ID], written[t.Target] = true, true
	}
	var out []Emptied
	for _, t := range old.Tables {
		if in[t.ID] || written[t.Target] || shared != nil && shared(t.Target) {
			continue
		}
		written[t.Target] = true
		out = append(out, Emptied{Table: t.ID, Target: t.Target})
	}
	return out
}

// emptyRemoved empties at target the tables that left cur since the
// definition cp records (RemovedTables), and records def, cur's
// definition, in the same transaction. schemas are the scope's table
// schemas, prepared at the target; a table without one never reached the
// target and is skipped. It returns the checkpoint as it now stands (cp
// if nothing was emptied) and what it emptied. A definition that cannot
// be read (an older layout) empties nothing.
func emptyRemoved(ctx context.Context, target Target, cp checkpoint.Record, cur *scopes.Scope, schemas map[capture.TableID]*router.TableSchema,
	shared func(capture.TableID) bool, syncdVersion string, log hclog.Logger) (checkpoint.Record, []Emptied, error) {
	if cp.Definition == nil {
		return cp, nil, nil
	}
	old, err := scopes.ParseDefinition(cp.Definition)
	if err != nil {
		log.Warn("cannot read the scope definition the target recorded: not emptying the tables that left the scope", "error", err)
		return cp, nil, nil
	}
	var gone []Emptied
	for _, e := range RemovedTables(old, cur, shared) {
		if schemas[e.Table] == nil {
			log.Warn("no schema recorded for a table that left the scope: it never reached the target, nothing to empty", "table", e.Table)
			continue
		}
		gone = append(gone, e)
	}
	if len(gone) == 0 {
		return cp, nil, nil
	}
	tx, err := target.Begin(ctx, false)
	if err != nil {
		return cp, nil, fmt.Errorf("begin emptying the tables that left scope %s: %w", cur.Name, err)
	}
	for _, e := range gone {
		// Resync: DELETE, which does not lock the table's readers out.
		if err := tx.Apply(ctx, &Change{Table: schemas[e.Table], Op: capture.OpTruncate, Resync: true}); err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
			return cp, nil, fmt.Errorf("empty target table %s: %w", e.Target, err)
		}
	}
	rec := cp
	rec.Definition, rec.ColumnSchema = cur.Definition(), nil // nil: keep the stored column schema
	rec.AppliedAt, rec.SyncdVersion = time.Now().UTC(), syncdVersion
	if err := tx.Commit(ctx, rec); err != nil {
		return cp, nil, fmt.Errorf("commit emptying the tables that left scope %s: %w", cur.Name, err)
	}
	rec.ColumnSchema = cp.ColumnSchema
	for _, e := range gone {
		log.Info("table left the scope: emptied its target table (removed_tables = \"empty\")", "table", e.Table, "target_table", e.Target)
	}
	return rec, gone, nil
}

// EmptyRemovedScope empties at target the target tables of scope, which
// the config no longer has, recorded for source in the target's
// scope_info row, unless another scope of the config writes them there
// (shared); see emptyRemoved. The row then records the scope without
// tables, so a later start does nothing. A target without the row holds
// nothing of the scope.
func EmptyRemovedScope(ctx context.Context, conn *router.Conn, target Target, scope, source string, shared func(capture.TableID) bool,
	syncdVersion string, log hclog.Logger) ([]Emptied, error) {
	cp, ok, err := target.Checkpoint(ctx, scope, source)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint of scope %s: %w", scope, err)
	}
	if !ok || cp.Definition == nil {
		return nil, nil
	}
	old, err := scopes.ParseDefinition(cp.Definition)
	if err != nil {
		log.Warn("cannot read the scope definition the target recorded: not emptying the scope's tables", "error", err)
		return nil, nil
	}
	cur := &scopes.Scope{Name: scope, Source: source, Snapshot: old.Snapshot}
	gone := RemovedTables(old, cur, shared)
	if len(gone) == 0 {
		return nil, nil
	}
	all, err := conn.TableSchemas(ctx, scope)
	if err != nil {
		return nil, err
	}
	schemas := make(map[capture.TableID]*router.TableSchema, len(gone))
	var list []*router.TableSchema
	for _, e := range gone {
		if ts := all[e.Table]; ts != nil {
			schemas[e.Table] = ts
			list = append(list, ts)
		}
	}
	if err := target.Prepare(ctx, scope, list); err != nil {
		return nil, fmt.Errorf("prepare the tables of removed scope %s: %w", scope, err)
	}
	_, emptied, err := emptyRemoved(ctx, target, cp, cur, schemas, shared, syncdVersion, log)
	return emptied, err
}
