package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ControlBucket is the KV bucket that holds the operators' controls of
// scopes: one key per paused scope, one per resync under way (see
// Control.Resync). Being in JetStream, a pause survives
// restarts and holds for every syncd that shares the NATS server.
const ControlBucket = "syncd_control"

// Pause is a scope's paused state.
type Pause struct {
	Paused bool `json:"paused"`
	// Since is when the scope was paused; zero when it is not.
	Since time.Time `json:"since,omitzero"`
}

// Control is the paused state of the scopes, kept up to date from
// ControlBucket by a watcher: a Pause or Resume through any Control on
// the same bucket shows in every Control's State within moments.
type Control struct {
	kv   jetstream.KeyValue
	w    jetstream.KeyWatcher
	done chan struct{} // closed when the watching goroutine returned

	mu       sync.Mutex
	state    map[string]Pause
	changed  map[string]chan struct{} // closed and replaced when a scope's state changes
	resyncs  map[string]Resync        // by id
	watchers map[int]func()           // called when resyncs changes
	nextW    int
}

// Control opens the control bucket, creating it if needed, and returns
// once it has read every scope's current state: from then on State is
// never older than what the bucket held at the call. Close stops it.
func (c *Conn) Control(ctx context.Context, replicas int) (*Control, error) {
	kv, err := c.openBucket(ctx, ControlBucket, replicas)
	if err != nil {
		return nil, err
	}
	// The watcher lives until Close, not until ctx is done.
	w, err := kv.WatchAll(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", ControlBucket, err)
	}
	ctl := &Control{kv: kv, w: w, done: make(chan struct{}), state: map[string]Pause{}, changed: map[string]chan struct{}{},
		resyncs: map[string]Resync{}, watchers: map[int]func(){}}
	// The watcher sends the current values, then nil.
	for initial := true; initial; {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("watch bucket %s: watcher closed", ControlBucket)
			}
			if e == nil {
				initial = false
				continue
			}
			ctl.apply(e)
		case <-ctx.Done():
			w.Stop()
			return nil, fmt.Errorf("read bucket %s: %w", ControlBucket, ctx.Err())
		}
	}
	go ctl.watch()
	return ctl, nil
}

// watch applies the bucket's updates until the watcher is stopped.
func (ctl *Control) watch() {
	defer close(ctl.done)
	for e := range ctl.w.Updates() {
		if e != nil {
			ctl.apply(e)
		}
	}
}

// apply records one bucket entry. A deleted key, or a value that does not
// decode, is a scope that is not paused.
func (ctl *Control) apply(e jetstream.KeyValueEntry) {
	if id, ok := strings.CutPrefix(e.Key(), resyncPrefix); ok {
		ctl.applyResync(id, e)
		return
	}
	scope, ok := scopeOfControlKey(e.Key())
	if !ok {
		return
	}
	var p Pause
	if e.Operation() == jetstream.KeyValuePut {
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			p = Pause{}
		}
	}
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if ctl.state[scope] == p {
		return
	}
	if p.Paused {
		ctl.state[scope] = p
	} else {
		delete(ctl.state, scope)
	}
	if ch := ctl.changed[scope]; ch != nil {
		close(ch)
		delete(ctl.changed, scope)
	}
}

// State returns scope's paused state and a channel that is closed when it
// changes. Safe for concurrent use.
func (ctl *Control) State(scope string) (Pause, <-chan struct{}) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	ch := ctl.changed[scope]
	if ch == nil {
		ch = make(chan struct{})
		ctl.changed[scope] = ch
	}
	return ctl.state[scope], ch
}

// Paused reports whether scope is paused, and returns a channel closed
// when that changes: ctl is an apply.Gate.
func (ctl *Control) Paused(scope string) (bool, <-chan struct{}) {
	p, ch := ctl.State(scope)
	return p.Paused, ch
}

// Pause pauses scope and returns its state: that stored already if it was
// paused (Since stays when it was first paused). It returns once the
// bucket stored it; State shows it once the watcher delivered it.
func (ctl *Control) Pause(ctx context.Context, scope string) (Pause, error) {
	e, err := ctl.kv.Get(ctx, controlKey(scope))
	switch {
	case err == nil:
		var p Pause
		if json.Unmarshal(e.Value(), &p) == nil && p.Paused {
			return p, nil
		}
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return Pause{}, fmt.Errorf("read state of scope %s: %w", scope, err)
	}
	p := Pause{Paused: true, Since: time.Now().UTC()}
	b, err := json.Marshal(p)
	if err != nil {
		return Pause{}, fmt.Errorf("encode state of scope %s: %w", scope, err)
	}
	if _, err := ctl.kv.Put(ctx, controlKey(scope), b); err != nil {
		return Pause{}, fmt.Errorf("pause scope %s: %w", scope, err)
	}
	return p, nil
}

// Resume lets scope apply again; resuming a scope that is not paused does
// nothing.
func (ctl *Control) Resume(ctx context.Context, scope string) (Pause, error) {
	if err := ctl.kv.Delete(ctx, controlKey(scope)); err != nil {
		return Pause{}, fmt.Errorf("resume scope %s: %w", scope, err)
	}
	return Pause{}, nil
}

// Close stops watching the bucket and waits for the watching goroutine.
func (ctl *Control) Close() {
	ctl.w.Stop()
	<-ctl.done
}

// controlKey is a scope's key. Scope names ([a-z][a-z0-9_-]*, see scopes)
// are valid KV keys as they are.
func controlKey(scope string) string { return "scope." + scope }

// scopeOfControlKey is the scope of a key, if it is a scope's.
func scopeOfControlKey(key string) (string, bool) {
	scope, ok := strings.CutPrefix(key, "scope.")
	return scope, ok && scope != ""
}
