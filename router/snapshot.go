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
// table is snapshotted again.
type snapshotRecord struct {
	Hash string    `json:"hash"`
	Rows int64     `json:"rows"`
	Done time.Time `json:"done"`
}

type tableKey struct {
	scope string
	table capture.TableID
}

func (k tableKey) kv() string { return schemaKey(k.scope, k.table) }

// definitionHash identifies what a snapshot of st contains.
func definitionHash(st *scopes.Table) string {
	where := ""
	if st.Where != nil {
		where = st.Where.String()
	}
	b, _ := json.Marshal([]any{st.ID, st.Columns, where, st.Target})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// snapshotBucketConfig is SnapshotBucket's configuration.
func snapshotBucketConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      SnapshotBucket,
		Description: "syncd initial snapshots taken",
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	}
}

// loadSnapshots finds the tables of the router's scopes that want an
// initial snapshot and have none for their current definition.
func (r *Router) loadSnapshots(ctx context.Context, js jetstream.JetStream, cfg *scopes.Config, replicas int) error {
	kv, err := js.CreateOrUpdateKeyValue(ctx, snapshotBucketConfig(replicas))
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", SnapshotBucket, err)
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
			var rec snapshotRecord
			if err == nil {
				if err := json.Unmarshal(e.Value(), &rec); err != nil {
					return fmt.Errorf("read snapshot state of %s in scope %s: %w", st.ID, s.Name, err)
				}
				if rec.Hash == definitionHash(st) {
					continue
				}
			}
			if err := r.addPending(s, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// addPending adds table st of scope s to the snapshots to take.
func (r *Router) addPending(s *scopes.Scope, st *scopes.Table) error {
	req := capture.SnapshotRequest{Scope: s.Name, Table: st.ID}
	if st.Where != nil {
		dialect, ok := dialects[r.src.Kind]
		if !ok {
			return retry.Terminal(fmt.Errorf("scope %s: no SQL dialect for %s sources to snapshot with", s.Name, r.src.Kind))
		}
		where := st.Where
		req.Where = func(args []any) (string, []any) { return where.SQL(dialect, args) }
	}
	r.pending[tableKey{scope: s.Name, table: st.ID}] = &pendingSnapshot{req: req, hash: definitionHash(st)}
	return nil
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
			if err := r.addPending(s, st); err != nil {
				return err
			}
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
	hash, ok := r.taken[k]
	if !ok {
		return fmt.Errorf("record snapshot of %s in scope %s: no snapshot of it was taken", req.Table, req.Scope)
	}
	rec := snapshotRecord{Hash: hash, Rows: rows, Done: time.Now().UTC()}
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
		r.taken[k] = p.hash
		delete(r.pending, k)
	}
}
