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
	// Targets are the scope's targets that hold the copy; a target added
	// to the scope gets a copy of its own. Nil in records written before
	// syncd kept them: every target of the scope then holds it.
	Targets []string `json:"targets"`
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

// tableKey names a snapshot: of a table in a scope, for every target of
// the scope, or for one target.
type tableKey struct {
	scope  string
	table  capture.TableID
	target string // empty: every target
}

// base is the key of the scope table's snapshot for every target.
func (k tableKey) base() tableKey { return tableKey{scope: k.scope, table: k.table} }

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

// loadSnapshots finds the tables of own, the router's scopes, that want
// an initial snapshot and have none for their current definition, and the
// targets added to a scope since its tables were copied, which get a copy
// of their own (loadTargets). stored[i] is own[i]'s record in ScopeBucket
// (readScopes); it updates the record of a returning scope.
func (r *Router) loadSnapshots(ctx context.Context, js jetstream.JetStream, cfg *scopes.Config, own []*scopes.Scope, stored []storedScope, replicas int) error {
	kv, err := openBucket(ctx, js, SnapshotBucket, replicas)
	if err != nil {
		return err
	}
	r.snapshots = kv
	marked, err := markRemoved(ctx, r.scopeKV, cfg, r.src.Name)
	if err != nil {
		return err
	}
	for _, name := range marked {
		r.log.Info("a scope left the config: its targets keep its tables as removed_tables says; should it come back, it is copied afresh", "scope", name)
	}
	for i, s := range own {
		r.scopes = append(r.scopes, s)
		if cfg.TwoWay(s) {
			if r.twoWay == nil {
				r.twoWay = make(map[string]bool)
			}
			r.twoWay[s.Name] = true
		}
		back, err := returning(ctx, r.scopeKV, s, &stored[i], func() error { return forgetScope(ctx, kv, s.Name) })
		if err != nil {
			return err
		}
		if back {
			r.log.Info("a scope removed earlier is back: copying its tables afresh", "scope", s.Name)
		}
		if err := r.forgetRemoved(ctx, kv, s); err != nil {
			return err
		}
		if s.Snapshot == scopes.SnapshotNever {
			continue
		}
		for _, st := range s.Tables {
			if err := r.loadTable(ctx, s, st, stored[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadTable decides what to copy of st, given its snapshot record and
// sr, the record of its scope s in ScopeBucket.
func (r *Router) loadTable(ctx context.Context, s *scopes.Scope, st *scopes.Table, sr storedScope) error {
	kv := r.snapshots
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
			dirty := rec.Def == nil
			if dirty { // an earlier syncd's record: the hash says what it copied
				rec.Def = defOf(st)
			}
			return r.loadTargets(ctx, s, st, rec, e.Revision(), dirty)
		}
	}
	if rec != nil && (prog != nil && prog.Hash != hash || rec.Def != nil && unfinishedBefore(s, st, rec, sr)) {
		// A backfill of another definition was cut short: the targets
		// may hold any rows of it. Delete every row outside the new
		// definition and send every row in it.
		r.log.Warn("the table's last backfill, of another definition, did not finish: deleting every row outside the new definition and sending every row in it",
			"scope", s.Name, "table", st.ID)
		rec = &snapshotRecord{Hash: rec.Hash, Rows: rec.Rows, Targets: rec.Targets, Def: &tableDef{Columns: []string{}, Target: st.Target}}
	}
	req, copy, err := r.snapshotRequest(s, st, rec)
	if err != nil {
		return err
	}
	if prog != nil && prog.Hash == hash {
		req.Resume = prog.State
	}
	p := &pendingSnapshot{req: req, hash: hash, def: defOf(st), targets: append([]string{}, s.Targets...)}
	if !req.Truncate {
		p.reland = relandColumns(st, rec)
	}
	if rec != nil && !req.Truncate { // a diff: the targets without the copy need one
		known := knownTargets(rec, s)
		if err := r.addTargetCopies(s, st, known); err != nil {
			return err
		}
		p.targets = known
	}
	if !copy { // nothing to send: record the new definition
		if _, err := kv.Put(ctx, k.kv(), mustJSON(snapshotRecord{Hash: p.hash, Def: p.def, Rows: rec.Rows, Done: time.Now().UTC(), Targets: p.targets})); err != nil {
			return fmt.Errorf("record snapshot of %s in scope %s: %w", st.ID, s.Name, err)
		}
		return nil
	}
	r.pending[k] = p
	return nil
}

// knownTargets returns the targets of s that rec says hold the table's
// copy. A record written before syncd kept them holds none: every
// target of s then counts as having it.
func knownTargets(rec *snapshotRecord, s *scopes.Scope) []string {
	if rec.Targets == nil {
		return append([]string{}, s.Targets...)
	}
	known := []string{}
	for _, t := range s.Targets {
		if slices.Contains(rec.Targets, t) {
			known = append(known, t)
		}
	}
	return known
}

// loadTargets handles a table whose copy is current: targets of s that
// do not hold the copy get one of their own, and rec is rewritten if
// what it says changed (a definition or targets to add to an earlier
// syncd's record, targets removed from the scope, which a copy is sent to
// again when they come back).
func (r *Router) loadTargets(ctx context.Context, s *scopes.Scope, st *scopes.Table, rec *snapshotRecord, rev uint64, dirty bool) error {
	known := knownTargets(rec, s)
	if dirty || rec.Targets == nil || !slices.Equal(known, rec.Targets) {
		rec.Targets = known
		k := tableKey{scope: s.Name, table: st.ID}
		if _, err := r.snapshots.Update(ctx, k.kv(), mustJSON(rec), rev); err != nil {
			return fmt.Errorf("record the targets of the snapshot of %s in scope %s: %w", st.ID, s.Name, err)
		}
	}
	return r.addTargetCopies(s, st, known)
}

// addTargetCopies makes pending a copy of st for each target of s that
// is not in known: a target added to the scope.
func (r *Router) addTargetCopies(s *scopes.Scope, st *scopes.Table, known []string) error {
	for _, t := range s.Targets {
		if slices.Contains(known, t) {
			continue
		}
		if _, err := r.addTargetCopy(s, st, t); err != nil {
			return err
		}
		r.log.Info("target added to the scope: copying the table to it", "scope", s.Name, "table", st.ID, "target", t)
	}
	return nil
}

// addTargetCopy makes pending a copy of st for target alone, unless one
// is pending already, and returns it.
func (r *Router) addTargetCopy(s *scopes.Scope, st *scopes.Table, target string) (*pendingSnapshot, error) {
	k := tableKey{scope: s.Name, table: st.ID, target: target}
	if p := r.pending[k]; p != nil {
		return p, nil
	}
	req, _, err := r.snapshotRequest(s, st, nil)
	if err != nil {
		return nil, err
	}
	req.Target = target
	p := &pendingSnapshot{req: req, hash: definitionHash(st), def: defOf(st)}
	r.pending[k] = p
	r.copies.set(k, "waiting", nil)
	return p, nil
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
	gone, err := forgetSnapshots(ctx, kv, s.Name, func(key string) bool { return !keep[key] })
	for _, key := range gone {
		r.log.Info("a table left the scope: its targets keep it as it is; should it come back, it is copied afresh", "scope", s.Name, "record", key)
	}
	return err
}

// forgetScope deletes the snapshot records of every table of scope, a
// scope that comes back after it was removed: its tables are copied
// afresh, after a truncate.
func forgetScope(ctx context.Context, kv jetstream.KeyValue, scope string) error {
	_, err := forgetSnapshots(ctx, kv, scope, func(string) bool { return true })
	return err
}

// forgetSnapshots deletes the snapshot records of scope whose keys gone
// reports true for, and returns their keys.
func forgetSnapshots(ctx context.Context, kv jetstream.KeyValue, scope string, gone func(key string) bool) ([]string, error) {
	keys, err := kv.ListKeysFiltered(ctx, scope+".>")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshot records of scope %s: %w", scope, err)
	}
	defer keys.Stop()
	var out []string
	for key := range keys.Keys() {
		if gone(key) {
			out = append(out, key)
		}
	}
	for i, key := range out {
		if err := kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return out[:i], fmt.Errorf("forget the snapshot record %s of scope %s: %w", key, scope, err)
		}
	}
	return out, nil
}

// snapshotRequest decides what to copy of st, whose last snapshot rec
// (nil: none) copied another definition, and whether anything is to be
// copied at all:
//
//   - no snapshot yet: every row in scope, after a truncate (as upserts
//     in a two-way scope, which has a seed rule);
//   - a record without the definition it copied (written by a syncd before
//     they were kept, and the definition has changed since): the rows that
//     left the scope cannot be found, so every row again after a truncate,
//     once; loadSnapshots adds the definition to such records that match;
//   - another target table, a column added (or the column list dropped,
//     to take them all), or another mapping (rows mapped otherwise, see
//     Table.Mapping): every row in scope, as upserts, and the
//     rows the filter change makes leave, deleted; when a changed
//     transform is all that changed, the rows carry only the key and the
//     columns it computes (pendingSnapshot.reland, relandColumns);
//   - the filter changed (widened, narrowed, params): the rows entering
//     (new AND NOT old) and the rows leaving (old AND NOT new); rows in
//     both are not sent;
//   - only columns removed: nothing; they are no longer published.
func (r *Router) snapshotRequest(s *scopes.Scope, st *scopes.Table, rec *snapshotRecord) (capture.SnapshotRequest, bool, error) {
	// A two-way scope's copy (a seed, a resync, a target added) keeps the
	// target's rows: those only the target holds reach the other side
	// through the scope the other way, a delete of them would lose them
	// for good (and could not tell a row the source deleted from one the
	// target added), and the apply workers settle the rows both hold by
	// the seed rule (apply.SeedRule) or the conflict policy.
	req := capture.SnapshotRequest{Scope: s.Name, Table: st.ID, Truncate: s.Seed == "" && !r.twoWay[s.Name]}
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
			for _, key := range []string{k.kv(), k.progressKV()} {
				if err := r.snapshots.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
					return fmt.Errorf("forget snapshot of %s in scope %s: %w", st.ID, s.Name, err)
				}
			}
			req, _, err := r.snapshotRequest(s, st, nil)
			if err != nil {
				return err
			}
			r.pending[k] = &pendingSnapshot{req: req, hash: definitionHash(st), def: defOf(st), targets: append([]string{}, s.Targets...)}
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
	req     capture.SnapshotRequest
	hash    string
	def     *tableDef
	targets []string // for every target: the targets its record names when done
	resyncs []string // ids of the resyncs it is part of
	handed  bool     // returned by Snapshots or AddedSnapshots
	reland  []string // the only target columns its rows send (relandColumns); nil: all
}

// Snapshots implements capture.Snapshotter, in scope, table and target
// order. It returns at most one snapshot per scope table, the copy for
// every target before those for one target: the others follow, through
// AddedSnapshots, once it is done. So the router knows which request a
// snapshot transaction belongs to by its scope and table.
func (r *Router) Snapshots() []capture.SnapshotRequest {
	r.takeResyncs()
	r.out = make(map[tableKey]tableKey, len(r.taken))
	for k := range r.taken {
		r.out[k.base()] = k
	}
	for _, p := range r.pending {
		p.handed = false
	}
	return r.hand()
}

// AddedSnapshots implements capture.SnapshotAdder.
func (r *Router) AddedSnapshots() []capture.SnapshotRequest {
	r.takeResyncs()
	return r.hand()
}

// SnapshotsAdded implements capture.SnapshotAdder.
func (r *Router) SnapshotsAdded() <-chan struct{} { return r.added }

// signalAdded tells the source that AddedSnapshots may have requests.
// Safe for concurrent use.
func (r *Router) signalAdded() {
	select {
	case r.added <- struct{}{}:
	default:
	}
}

// hand returns the pending snapshots not handed out yet whose scope table
// has no other snapshot handed out and not done, and marks them handed.
func (r *Router) hand() []capture.SnapshotRequest {
	keys := make([]tableKey, 0, len(r.pending))
	for k, p := range r.pending {
		if !p.handed {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b tableKey) int {
		if c := strings.Compare(a.scope, b.scope); c != 0 {
			return c
		}
		if c := strings.Compare(a.table.String(), b.table.String()); c != 0 {
			return c
		}
		return strings.Compare(a.target, b.target)
	})
	var out []capture.SnapshotRequest
	for _, k := range keys {
		if _, busy := r.out[k.base()]; busy {
			continue
		}
		p := r.pending[k]
		p.handed = true
		r.out[k.base()] = k
		out = append(out, p.req)
	}
	return out
}

// SnapshotDone implements capture.Snapshotter. A copy for every target
// records the targets it reached; a copy for one target adds it to the
// record. A resync is done, and leaves the control bucket, when its last
// copy is.
func (r *Router) SnapshotDone(ctx context.Context, req capture.SnapshotRequest, rows int64) error {
	k := tableKey{scope: req.Scope, table: req.Table, target: req.Target}
	p, ok := r.taken[k]
	if !ok {
		return fmt.Errorf("record snapshot of %s in scope %s: no snapshot of it was taken", req.Table, req.Scope)
	}
	if k.target == "" {
		rec := snapshotRecord{Hash: p.hash, Def: p.def, Rows: rows, Done: time.Now().UTC(), Targets: p.targets}
		if _, err := r.snapshots.Put(ctx, k.kv(), mustJSON(rec)); err != nil {
			return fmt.Errorf("record snapshot of %s in scope %s: %w", req.Table, req.Scope, err)
		}
		if err := r.snapshots.Delete(ctx, k.progressKV()); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("record snapshot of %s in scope %s: %w", req.Table, req.Scope, err)
		}
	} else if err := r.recordTarget(ctx, k); err != nil {
		return err
	}
	delete(r.taken, k)
	delete(r.out, k.base())
	if _, again := r.pending[k]; !again {
		r.copies.done(k)
	}
	for _, id := range p.resyncs {
		if r.resyncLeft[id]--; r.resyncLeft[id] > 0 {
			if err := r.resyncs.ResyncProgress(ctx, id, resyncPart(k)); err != nil {
				return err
			}
			continue
		}
		if err := r.resyncs.ResyncDone(ctx, id); err != nil {
			return err
		}
		r.log.Info("resync done", "id", id, "scope", k.scope)
	}
	for q, p := range r.pending {
		if q.base() == k.base() && !p.handed {
			r.signalAdded()
			break
		}
	}
	return nil
}

// recordTarget adds k's target to the targets that hold the copy of k's
// table, if a record of it exists (a scope with snapshot = "never" has
// none).
func (r *Router) recordTarget(ctx context.Context, k tableKey) error {
	e, err := r.snapshots.Get(ctx, k.kv())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read snapshot state of %s in scope %s: %w", k.table, k.scope, err)
	}
	var rec snapshotRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return fmt.Errorf("read snapshot state of %s in scope %s: %w", k.table, k.scope, err)
	}
	if rec.Targets == nil || slices.Contains(rec.Targets, k.target) {
		return nil
	}
	rec.Targets = append(rec.Targets, k.target)
	if _, err := r.snapshots.Update(ctx, k.kv(), mustJSON(rec), e.Revision()); err != nil {
		return fmt.Errorf("record the copy of %s in scope %s for target %s: %w", k.table, k.scope, k.target, err)
	}
	return nil
}

// snapshotOf returns the key of the snapshot handed out for the scope
// table of k, which an event of a snapshot transaction belongs to.
func (r *Router) snapshotOf(k tableKey) tableKey {
	if h, ok := r.out[k]; ok {
		return h
	}
	return k
}

// snapshotStarted moves a table from pending (live changes dropped) to
// taken (its snapshot transaction is under way; live changes flow again).
// While k is taken, a pending k is the same copy asked for again (a
// resync), which starts once this one is done.
func (r *Router) snapshotStarted(k tableKey) {
	if _, running := r.taken[k]; running {
		return
	}
	if p, ok := r.pending[k]; ok {
		r.taken[k] = p
		delete(r.pending, k)
		if k.target != "" {
			r.copies.set(k, "copying", p.resyncs)
		}
	}
}

// dropResync removes resync id, which asks for nothing, from the control
// bucket; if that fails, the next router tries again.
func (r *Router) dropResync(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.resyncs.ResyncDone(ctx, id); err != nil {
		r.log.Warn("cannot drop a resync", "resync", id, "error", err)
	}
}

// takeResyncs makes pending the copies of the resyncs of the router's
// scopes it has not seen yet: one per table and target they name.
func (r *Router) takeResyncs() {
	if r.resyncs == nil {
		return
	}
	for _, rs := range r.resyncs.Resyncs() {
		if r.resyncSeen[rs.ID] {
			continue
		}
		r.resyncSeen[rs.ID] = true
		i := slices.IndexFunc(r.scopes, func(s *scopes.Scope) bool { return s.Name == rs.Scope })
		if i < 0 {
			continue // another source's scope, or one no longer configured
		}
		s := r.scopes[i]
		for _, st := range s.Tables {
			if rs.Table != (capture.TableID{}) && rs.Table != st.ID {
				continue
			}
			for _, t := range s.Targets {
				k := tableKey{scope: s.Name, table: st.ID, target: t}
				if rs.Target != "" && rs.Target != t || slices.Contains(rs.Done, resyncPart(k)) {
					continue
				}
				p, err := r.addTargetCopy(s, st, t)
				if err != nil {
					r.log.Error("cannot resync a table", "resync", rs.ID, "scope", s.Name, "table", st.ID, "target", t, "error", err)
					continue
				}
				p.resyncs = append(p.resyncs, rs.ID)
				r.resyncLeft[rs.ID]++
				r.copies.set(k, "waiting", p.resyncs)
			}
		}
		if r.resyncLeft[rs.ID] == 0 {
			// The table or target left the scope since it was asked for.
			r.log.Warn("resync names no table and target of the scope; dropping it", "resync", rs.ID, "scope", rs.Scope, "table", rs.Table, "target", rs.Target)
			r.dropResync(rs.ID)
			continue
		}
		r.log.Info("resync requested", "resync", rs.ID, "scope", rs.Scope, "copies", r.resyncLeft[rs.ID])
	}
}

// snapshotMessage sets the reason of m, which route made of an event of
// snapshot sn, and decides whether it is published (ok is route's answer):
// a copy for one target is a resync for that target alone; a
// truncating snapshot's rows are snapshot rows; a diff's reads are
// backfill rows, and its deletes, of rows that the new filter leaves out,
// are scope_exit deletes, published whatever route says.
func snapshotMessage(m *message, ok bool, sn *pendingSnapshot) bool {
	switch {
	case sn != nil && sn.req.Target != "":
		m.reason, m.target = ReasonResync, sn.req.Target
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

// AwaitsCopies reports whether target is to get a copy of its own of
// every table of scope s (a target added to the scope): each table has a
// snapshot record that names the targets holding its copy, and target is
// not among them. A new worker of such a target need not apply what the
// stream holds before its first copy: the copies hold all of it.
func (c *Conn) AwaitsCopies(ctx context.Context, s *scopes.Scope, target string, replicas int) (bool, error) {
	if s.Snapshot == scopes.SnapshotNever || len(s.Tables) == 0 {
		return false, nil
	}
	kv, err := c.openBucket(ctx, SnapshotBucket, replicas)
	if err != nil {
		return false, err
	}
	for _, st := range s.Tables {
		k := tableKey{scope: s.Name, table: st.ID}
		e, err := kv.Get(ctx, k.kv())
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read snapshot state of %s in scope %s: %w", st.ID, s.Name, err)
		}
		var rec snapshotRecord
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			return false, fmt.Errorf("read snapshot state of %s in scope %s: %w", st.ID, s.Name, err)
		}
		if rec.Targets == nil || slices.Contains(rec.Targets, target) {
			return false, nil
		}
	}
	return true, nil
}

// paceSlack is how many messages of a scope's stream its targets may
// have still to apply when a backfill reads its next chunk while nothing
// else of the scope streams: about two chunks of packed rows, which
// keeps the source's reads, the stream and the targets' writes busy at
// once.
const paceSlack = 20

// Pace implements capture.Pacer: it waits (Options.Pace) until the
// targets of req's scope have applied all but paceSlack messages of what
// the router has sent so far; all of it if the scope streamed a
// transaction other than a snapshot within capture.StreamingWindow. The
// latter gives streaming changes priority over the backfill: a change
// waits at the targets behind at most the one chunk read after the
// targets caught up, not behind every chunk the slack allows.
func (r *Router) Pace(ctx context.Context, req capture.SnapshotRequest) error {
	p := r.pubs[req.Scope]
	if r.pace == nil || p == nil {
		return nil
	}
	slack := uint64(paceSlack)
	if r.now().Sub(time.Unix(0, p.streamed.Load())) < capture.StreamingWindow {
		slack = 0
	}
	sent := p.sent.Load()
	if sent <= slack {
		return nil
	}
	return r.pace(ctx, req.Scope, sent-slack)
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
	if req.Target != "" {
		return fmt.Errorf("record backfill progress of %s in scope %s: a copy for target %s is taken in one transaction", req.Table, req.Scope, req.Target)
	}
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
