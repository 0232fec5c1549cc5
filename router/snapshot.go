package router

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// SnapshotBucket is the KV bucket that records which scope tables have
// had their initial snapshot.
const SnapshotBucket = "syncd_snapshots"

// snapshotRecord is a finished snapshot. Hash identifies the table's
// definition in the scope (columns, filter, target): when it changes, the
// table is snapshotted again, as the difference between Def and the new
// definition. Records written before Def was kept have none.
type snapshotRecord struct {
	Hash string    `json:"hash"`
	Def  *tableDef `json:"definition,omitempty"`
	Rows int64     `json:"rows"`
	Done time.Time `json:"done"`
}

// tableDef is what a snapshot of a scope table copied.
type tableDef struct {
	Columns []string        `json:"columns"` // nil: every column
	Where   string          `json:"where"`   // the filter with its params bound; "": every row
	Target  capture.TableID `json:"target"`
	Mapping string          `json:"mapping,omitempty"` // scopes.MappingText; "": none
}

func defOf(st *scopes.Table) *tableDef {
	d := &tableDef{Columns: st.Columns, Target: st.Target, Mapping: scopes.MappingText(st)}
	if st.Where != nil {
		d.Where = st.Where.String()
	}
	return d
}

type tableKey struct {
	scope string
	table capture.TableID
}

func (k tableKey) kv() string { return schemaKey(k.scope, k.table) }

// definitionHash identifies what a snapshot of st contains.
func definitionHash(st *scopes.Table) string {
	d := defOf(st)
	parts := []any{st.ID, d.Columns, d.Where, d.Target}
	if d.Mapping != "" { // tables without a mapping keep the hash they had before mappings
		parts = append(parts, d.Mapping)
	}
	b, _ := json.Marshal(parts)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// loadSnapshots finds the tables of the router's scopes that want an
// initial snapshot and have none for their current definition.
func (r *Router) loadSnapshots(ctx context.Context, js jetstream.JetStream, cfg *scopes.Config, replicas int) error {
	kv, err := openBucket(ctx, js, SnapshotBucket, replicas)
	if err != nil {
		return err
	}
	r.snapshots = kv
	for _, s := range cfg.Scopes {
		if s.Source != r.src.Name {
			continue
		}
		r.scopes = append(r.scopes, s)
		if s.Snapshot == scopes.SnapshotNever {
			continue
		}
		for _, st := range s.Tables {
			k := tableKey{scope: s.Name, table: st.ID}
			e, err := kv.Get(ctx, k.kv())
			if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
				return fmt.Errorf("read snapshot state of %s in scope %s: %w", st.ID, s.Name, err)
			}
			var rec *snapshotRecord
			if err == nil {
				rec = new(snapshotRecord)
				if err := json.Unmarshal(e.Value(), rec); err != nil {
					return fmt.Errorf("read snapshot state of %s in scope %s: %w", st.ID, s.Name, err)
				}
				if rec.Hash == definitionHash(st) {
					if rec.Def == nil { // an earlier syncd's record: the hash says what it copied
						rec.Def = defOf(st)
						if _, err := kv.Update(ctx, k.kv(), mustJSON(rec), e.Revision()); err != nil {
							return fmt.Errorf("record the definition of the snapshot of %s in scope %s: %w", st.ID, s.Name, err)
						}
					}
					continue
				}
			}
			req, copy, err := r.snapshotRequest(s, st, rec)
			if err != nil {
				return err
			}
			p := &pendingSnapshot{req: req, hash: definitionHash(st), def: defOf(st)}
			if !copy { // nothing to send: record the new definition
				if _, err := kv.Put(ctx, k.kv(), mustJSON(snapshotRecord{Hash: p.hash, Def: p.def, Rows: rec.Rows, Done: time.Now().UTC()})); err != nil {
					return fmt.Errorf("record snapshot of %s in scope %s: %w", st.ID, s.Name, err)
				}
				continue
			}
			r.pending[k] = p
		}
	}
	return nil
}

// snapshotRequest decides what to copy of st, whose last snapshot rec
// (nil: none) copied another definition, and whether anything is to be
// copied at all:
//
//   - no snapshot yet: every row in scope, after a truncate;
//   - a record without the definition it copied (written by a syncd before
//     they were kept, and the definition has changed since): the rows that
//     left the scope cannot be found, so every row again after a truncate,
//     once; loadSnapshots adds the definition to such records that match;
//   - another target table, a column added (or the column list dropped,
//     to take them all), or another mapping (rows mapped otherwise, see
//     Table.Mapping): every row in scope, as upserts, and the
//     rows the filter change makes leave, deleted;
//   - the filter changed (widened, narrowed, params): the rows entering
//     (new AND NOT old) and the rows leaving (old AND NOT new); rows in
//     both are not sent;
//   - only columns removed: nothing; they are no longer published.
func (r *Router) snapshotRequest(s *scopes.Scope, st *scopes.Table, rec *snapshotRecord) (capture.SnapshotRequest, bool, error) {
	req := capture.SnapshotRequest{Scope: s.Name, Table: st.ID, Truncate: true}
	dialect, ok := dialects[r.src.Kind]
	if !ok && (st.Where != nil || rec != nil) {
		return req, false, retry.Terminal(fmt.Errorf("scope %s: no SQL dialect for %s sources to snapshot with", s.Name, r.src.Kind))
	}
	render := func(in, out *filter.Filter, diff bool) func([]any) (string, []any) {
		switch {
		case diff:
			return func(args []any) (string, []any) { return filter.DiffSQL(dialect, in, out, args) }
		case in == nil:
			return nil
		}
		return func(args []any) (string, []any) { return in.SQL(dialect, args) }
	}
	req.Where = render(st.Where, nil, false)
	if rec == nil {
		return req, true, nil
	}
	if rec.Def == nil {
		r.log.Warn("the table's last snapshot does not record what it copied, so the rows that left the scope cannot be found: copying the table again after a truncate, once",
			"scope", s.Name, "table", st.ID)
		return req, true, nil
	}
	var old *filter.Filter
	if rec.Def.Where != "" {
		var err error
		if old, err = filter.Parse(rec.Def.Where); err != nil {
			r.log.Warn("cannot read the filter of the table's last snapshot: copying the table again after a truncate",
				"scope", s.Name, "table", st.ID, "error", err)
			return req, true, nil
		}
	}
	req.Truncate = false
	whereChanged := defOf(st).Where != rec.Def.Where
	if whereChanged {
		req.ExitWhere = render(old, st.Where, true)
	}
	switch {
	case st.Target != rec.Def.Target || columnsAdded(rec.Def.Columns, st.Columns) || defOf(st).Mapping != rec.Def.Mapping:
		return req, true, nil
	case whereChanged:
		req.Where = render(st.Where, old, true)
		return req, true, nil
	}
	return req, false, nil
}

// columnsAdded reports whether the column list now (nil: all) has a
// column the list before did not.
func columnsAdded(before, now []string) bool {
	if before == nil {
		return false
	}
	if now == nil {
		return true
	}
	for _, c := range now {
		if !slices.Contains(before, c) {
			return true
		}
	}
	return false
}

// Resnapshot implements capture.Snapshotter: when every scope of the
// source has snapshot = "when_needed", it deletes their snapshot records
// and makes every table of theirs pending again. The records are deleted
// first, so a crash before the new snapshots are done takes them again.
func (r *Router) Resnapshot(ctx context.Context, lost error) error {
	var refuse []string
	for _, s := range r.scopes {
		if s.Snapshot != scopes.SnapshotWhenNeeded {
			refuse = append(refuse, fmt.Sprintf("%s (snapshot = %q)", s.Name, s.Snapshot))
		}
	}
	if len(refuse) > 0 {
		return fmt.Errorf("scopes that do not allow taking their snapshots again: %s; with snapshot = %q on every scope of source %s, syncd would copy their tables afresh", strings.Join(refuse, ", "), scopes.SnapshotWhenNeeded, r.src.Name)
	}
	var tables int
	for _, s := range r.scopes {
		for _, st := range s.Tables {
			k := tableKey{scope: s.Name, table: st.ID}
			if err := r.snapshots.Delete(ctx, k.kv()); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
				return fmt.Errorf("forget snapshot of %s in scope %s: %w", st.ID, s.Name, err)
			}
			req, _, err := r.snapshotRequest(s, st, nil)
			if err != nil {
				return err
			}
			r.pending[k] = &pendingSnapshot{req: req, hash: definitionHash(st), def: defOf(st)}
			delete(r.taken, k)
			tables++
		}
	}
	r.log.Warn("taking every snapshot of the source's scopes again", "cause", lost, "tables", tables)
	return nil
}

// dialects maps source kinds to the filter's SQL dialects.
var dialects = map[string]filter.Dialect{
	scopes.KindPostgres:  filter.Postgres,
	scopes.KindMySQL:     filter.MySQL,
	scopes.KindSQLServer: filter.SQLServer,
}

type pendingSnapshot struct {
	req  capture.SnapshotRequest
	hash string
	def  *tableDef
}

// Snapshots implements capture.Snapshotter, in scope and table order.
func (r *Router) Snapshots() []capture.SnapshotRequest {
	var out []capture.SnapshotRequest
	for _, p := range r.pending {
		out = append(out, p.req)
	}
	slices.SortFunc(out, func(a, b capture.SnapshotRequest) int {
		if c := strings.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return strings.Compare(a.Table.String(), b.Table.String())
	})
	return out
}

// SnapshotDone implements capture.Snapshotter.
func (r *Router) SnapshotDone(ctx context.Context, req capture.SnapshotRequest, rows int64) error {
	k := tableKey{scope: req.Scope, table: req.Table}
	p, ok := r.taken[k]
	if !ok {
		return fmt.Errorf("record snapshot of %s in scope %s: no snapshot of it was taken", req.Table, req.Scope)
	}
	rec := snapshotRecord{Hash: p.hash, Def: p.def, Rows: rows, Done: time.Now().UTC()}
	if _, err := r.snapshots.Put(ctx, k.kv(), mustJSON(rec)); err != nil {
		return fmt.Errorf("record snapshot of %s in scope %s: %w", req.Table, req.Scope, err)
	}
	delete(r.taken, k)
	return nil
}

// snapshotStarted moves a table from pending (live changes dropped) to
// taken (its snapshot transaction is under way; live changes flow again).
func (r *Router) snapshotStarted(k tableKey) {
	if p, ok := r.pending[k]; ok {
		r.taken[k] = p
		delete(r.pending, k)
	}
}

// snapshotMessage sets the reason of m, which route made of an event of
// snapshot sn, and decides whether it is published (ok is route's answer):
// a truncating snapshot's rows are snapshot rows; a diff's reads are
// backfill rows, and its deletes, of rows that the new filter leaves out,
// are scope_exit deletes, published whatever route says.
func snapshotMessage(m *message, ok bool, sn *pendingSnapshot) bool {
	switch {
	case sn == nil || sn.req.Truncate:
		m.reason = ReasonSnapshot
	case m.op == capture.OpDelete:
		m.reason = ReasonScopeExit
		return true
	default:
		m.reason = ReasonBackfill
	}
	return ok
}
