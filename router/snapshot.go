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
}

func defOf(st *scopes.Table) *tableDef {
	d := &tableDef{Columns: st.Columns, Target: st.Target}
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
	b, _ := json.Marshal([]any{st.ID, d.Columns, d.Where, d.Target})
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
		if err := r.forgetRemoved(ctx, kv, s); err != nil {
			return err
		}
		if s.Snapshot == scopes.SnapshotNever {
			continue
		}
		for _, st := range s.Tables {
			k := tableKey{scope: s.Name, table: st.ID}
			e, err := kv.Get(ctx, k.kv())
			if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
				return fmt.Errorf("read snapshot state of %s in scope %s: %w", st.ID, s.Name, err)
			}
			found := err == nil
			prog, err := r.loadProgress(ctx, k)
			if err != nil {
				return err
			}
			hash := definitionHash(st)
			var rec *snapshotRecord
			if found {
				rec = new(snapshotRecord)
				if err := json.Unmarshal(e.Value(), rec); err != nil {
					return fmt.Errorf("read snapshot state of %s in scope %s: %w", st.ID, s.Name, err)
				}
				if rec.Hash == hash && (prog == nil || prog.Hash == hash) {
					if rec.Def == nil { // an earlier syncd's record: the hash says what it copied
						rec.Def = defOf(st)
						if _, err := kv.Update(ctx, k.kv(), mustJSON(rec), e.Revision()); err != nil {
							return fmt.Errorf("record the definition of the snapshot of %s in scope %s: %w", st.ID, s.Name, err)
						}
					}
					continue
				}
			}
			if prog != nil && prog.Hash != hash && rec != nil {
				// A backfill of another definition was cut short: the
				// targets may hold any rows of it. Delete every row
				// outside the new definition and send every row in it.
				r.log.Warn("the table's last backfill, of another definition, did not finish: deleting every row outside the new definition and sending every row in it",
					"scope", s.Name, "table", st.ID)
				rec = &snapshotRecord{Hash: rec.Hash, Rows: rec.Rows, Def: &tableDef{Columns: []string{}, Target: st.Target}}
			}
			req, copy, err := r.snapshotRequest(s, st, rec)
			if err != nil {
				return err
			}
			p := &pendingSnapshot{req: req, hash: hash, def: defOf(st)}
			if prog != nil && prog.Hash == hash {
				p.req.Resume = prog.State
			}
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

// forgetRemoved deletes the snapshot records of the tables that scope s
// no longer has. Their targets keep the table and its rows, which no
// longer change; should the table come back, it is copied afresh after a
// truncate, since the targets missed its changes in between.
func (r *Router) forgetRemoved(ctx context.Context, kv jetstream.KeyValue, s *scopes.Scope) error {
	keep := make(map[string]bool)
	for _, st := range s.Tables {
		k := tableKey{scope: s.Name, table: st.ID}
		keep[k.kv()], keep[k.progressKV()] = true, true
	}
	keys, err := kv.ListKeysFiltered(ctx, s.Name+".>")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list snapshot records of scope %s: %w", s.Name, err)
	}
	defer keys.Stop()
	var gone []string
	for key := range keys.Keys() {
		if !keep[key] {
			gone = append(gone, key)
		}
	}
	for _, key := range gone {
		if err := kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("forget the snapshot of a table removed from scope %s: %w", s.Name, err)
		}
		r.log.Info("a table left the scope: its targets keep it as it is; should it come back, it is copied afresh", "scope", s.Name, "record", key)
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
//   - another target table, or a column added (or the column list
//     dropped, to take them all): every row in scope, as upserts, and the
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
	req.InScope = req.Where
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
	case st.Target != rec.Def.Target || columnsAdded(rec.Def.Columns, st.Columns):
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
			for _, key := range []string{k.kv(), k.progressKV()} {
				if err := r.snapshots.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
					return fmt.Errorf("forget snapshot of %s in scope %s: %w", st.ID, s.Name, err)
				}
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
	if err := r.snapshots.Delete(ctx, k.progressKV()); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("record snapshot of %s in scope %s: %w", req.Table, req.Scope, err)
	}
	return nil
}

// paceSlack is how many messages of a scope's stream its targets may
// have still to apply when a backfill reads its next chunk: about two
// chunks of packed rows, so that a change the backfill is not part of
// waits behind no more than that at the targets.
const paceSlack = 20

// Pace implements capture.Pacer: it waits (Options.Pace) until the
// targets of req's scope have applied all but paceSlack messages of what
// the router has sent so far.
func (r *Router) Pace(ctx context.Context, req capture.SnapshotRequest) error {
	p := r.pubs[req.Scope]
	if r.pace == nil || p == nil {
		return nil
	}
	sent := p.sent.Load()
	if sent <= paceSlack {
		return nil
	}
	return r.pace(ctx, req.Scope, sent-paceSlack)
}

// progressRecord is the state of a chunked backfill after its last chunk
// recorded, for the definition Hash names.
type progressRecord struct {
	Hash  string          `json:"hash"`
	State json.RawMessage `json:"state"`
	Rows  int64           `json:"rows"`
	At    time.Time       `json:"at"`
}

func (k tableKey) progressKV() string { return k.kv() + ".progress" }

// SnapshotProgressed implements capture.Snapshotter.
func (r *Router) SnapshotProgressed(ctx context.Context, req capture.SnapshotRequest, state []byte, rows int64) error {
	k := tableKey{scope: req.Scope, table: req.Table}
	p := r.taken[k]
	if p == nil {
		p = r.pending[k]
	}
	if p == nil {
		return fmt.Errorf("record backfill progress of %s in scope %s: no snapshot of it was taken", req.Table, req.Scope)
	}
	rec := progressRecord{Hash: p.hash, State: state, Rows: rows, At: time.Now().UTC()}
	if _, err := r.snapshots.Put(ctx, k.progressKV(), mustJSON(rec)); err != nil {
		return fmt.Errorf("record backfill progress of %s in scope %s: %w", req.Table, req.Scope, err)
	}
	return nil
}

// loadProgress returns the progress a backfill of k last recorded, or nil.
func (r *Router) loadProgress(ctx context.Context, k tableKey) (*progressRecord, error) {
	e, err := r.snapshots.Get(ctx, k.progressKV())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read backfill progress of %s in scope %s: %w", k.table, k.scope, err)
	}
	var rec progressRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, fmt.Errorf("read backfill progress of %s in scope %s: %w", k.table, k.scope, err)
	}
	return &rec, nil
}

// stale reports whether the targets of k may still hold rows of the
// scope's previous definition: a diff snapshot of k is pending or under
// way.
func (r *Router) stale(k tableKey) bool {
	p := r.pending[k]
	if p == nil {
		p = r.taken[k]
	}
	return p != nil && !p.req.Truncate
}

// backfilling reports whether a snapshot of k is open: taken and not
// done, or to be resumed. Its scope drops changes whose new row leaves
// values out, which the source reads again (capture.Snapshotter).
func (r *Router) backfilling(k tableKey) bool {
	if r.taken[k] != nil {
		return true
	}
	p := r.pending[k]
	return p != nil && p.req.Resume != nil
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
