package router

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/syncd-dev/syncd/capture"
)

// Resync is an operator's request to copy a scope's rows again to its
// targets (`syncd resync`): every row in scope is sent again, after a
// delete of the target table's rows, to the targets named, so that a
// target someone edited by hand equals the source again. A two-way
// scope's copy deletes nothing (see Router.snapshotRequest): the rows
// only the target holds stay, the rows that differ are conflicts settled
// by its seed rule or policy. It stays in
// ControlBucket until every table of it has been copied to every target
// it names, with the copies done so far (Done), so that a restart takes
// the others.
type Resync struct {
	ID    string          `json:"id"`
	Scope string          `json:"scope"`
	Table capture.TableID `json:"table,omitzero"` // zero: every table of the scope
	// Target is the target to repair; empty: every target of the scope.
	Target    string    `json:"target,omitempty"`
	Requested time.Time `json:"requested"`
	// Done are the copies done so far, as "target/schema.table": a
	// restart takes the others only.
	Done []string `json:"done,omitempty"`
}

// resyncPart names one copy of a resync in Resync.Done.
func resyncPart(k tableKey) string { return k.target + "/" + k.table.String() }

// resyncPrefix starts the control keys of resyncs: resync.<id>.
const resyncPrefix = "resync."

// Resync records a resync of scope (of one table if table is not zero,
// for one target if target is not empty) and returns it. Routers of the
// scope's source take it up while they run, or when they start. The
// caller checks that the scope, table and target exist.
func (ctl *Control) Resync(ctx context.Context, scope string, table capture.TableID, target string) (Resync, error) {
	r := Resync{ID: nuid.Next(), Scope: scope, Table: table, Target: target, Requested: time.Now().UTC()}
	b, err := json.Marshal(r)
	if err != nil {
		return Resync{}, fmt.Errorf("encode resync of scope %s: %w", scope, err)
	}
	if _, err := ctl.kv.Create(ctx, resyncPrefix+r.ID, b); err != nil {
		return Resync{}, fmt.Errorf("record resync of scope %s: %w", scope, err)
	}
	return r, nil
}

// Resyncs returns the resyncs under way, oldest first. Safe for
// concurrent use.
func (ctl *Control) Resyncs() []Resync {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	out := make([]Resync, 0, len(ctl.resyncs))
	for _, r := range ctl.resyncs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Resync) int {
		if c := a.Requested.Compare(b.Requested); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// ResyncDone forgets the resync id: every copy it asked for is durable
// in the scope's stream.
func (ctl *Control) ResyncDone(ctx context.Context, id string) error {
	if err := ctl.kv.Delete(ctx, resyncPrefix+id); err != nil {
		return fmt.Errorf("record resync %s done: %w", id, err)
	}
	return nil
}

// ResyncProgress records in resync id that its copy part (see
// Resync.Done) is done.
func (ctl *Control) ResyncProgress(ctx context.Context, id, part string) error {
	e, err := ctl.kv.Get(ctx, resyncPrefix+id)
	if err != nil {
		return fmt.Errorf("read resync %s: %w", id, err)
	}
	var r Resync
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return fmt.Errorf("read resync %s: %w", id, err)
	}
	if slices.Contains(r.Done, part) {
		return nil
	}
	r.Done = append(r.Done, part)
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode resync %s: %w", id, err)
	}
	if _, err := ctl.kv.Update(ctx, resyncPrefix+id, b, e.Revision()); err != nil {
		return fmt.Errorf("record progress of resync %s: %w", id, err)
	}
	return nil
}

// OnResync calls f, from the watching goroutine, whenever the resyncs
// under way change, until the returned function is called. f must not
// block.
func (ctl *Control) OnResync(f func()) (stop func()) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	id := ctl.nextW
	ctl.nextW++
	ctl.watchers[id] = f
	return func() {
		ctl.mu.Lock()
		defer ctl.mu.Unlock()
		delete(ctl.watchers, id)
	}
}

// applyResync records one resync entry of the bucket: a value that does
// not decode is ignored.
func (ctl *Control) applyResync(id string, e jetstream.KeyValueEntry) {
	var r Resync
	put := e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &r) == nil && r.Scope != ""
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if put {
		r.ID = id
		ctl.resyncs[id] = r
	} else {
		delete(ctl.resyncs, id)
	}
	for _, f := range ctl.watchers {
		f()
	}
}

// ResyncSource is what a Router reads of the resyncs under way: a
// *Control.
type ResyncSource interface {
	Resyncs() []Resync
	ResyncProgress(ctx context.Context, id, part string) error
	ResyncDone(ctx context.Context, id string) error
	OnResync(f func()) (stop func())
}

var _ ResyncSource = (*Control)(nil)
