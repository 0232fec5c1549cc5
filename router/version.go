package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// ScopeBucket is the KV bucket that records each scope's definitions,
// their versions and where in the source log each took effect.
const ScopeBucket = "syncd_scopes"

// ScopeRecord is a scope's entry in ScopeBucket: its latest definition
// version, and in History every earlier one, oldest first. A version
// takes effect at its switch point in the source log (DESIGN.md §8,
// docs/scope-versions.md): changes before it are routed by the version
// before, changes from it on by this one.
type ScopeRecord struct {
	ScopeVersion
	History []ScopeVersion `json:"history,omitempty"`
	// Removed marks a scope that a syncd running its source started
	// without (markRemoved): its targets missed changes since, so should
	// it come back, its tables are copied again (returning).
	Removed bool `json:"removed,omitempty"`
}

// source returns the source of the scope's latest definition.
func (rec *ScopeRecord) source() string {
	var d struct {
		Source string `json:"source"`
	}
	_ = json.Unmarshal(rec.Definition, &d) // a record without it has no source
	return d.Source
}

// markRemoved marks Removed the records of the scopes of source that cfg
// no longer has. Records of other sources' scopes, which another syncd
// sharing the bucket may run, are left alone.
func markRemoved(ctx context.Context, kv jetstream.KeyValue, cfg *scopes.Config, source string) ([]string, error) {
	have := make(map[string]bool, len(cfg.Scopes))
	for _, s := range cfg.Scopes {
		have[s.Name] = true
	}
	keys, err := kv.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list scope records: %w", err)
	}
	defer keys.Stop()
	var gone []string
	for key := range keys.Keys() {
		if !have[key] {
			gone = append(gone, key)
		}
	}
	var marked []string
	for _, name := range gone {
		entry, err := kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read scope %s: %w", name, err)
		}
		var rec ScopeRecord
		if err := json.Unmarshal(entry.Value(), &rec); err != nil {
			return nil, fmt.Errorf("read scope %s: %w", name, err)
		}
		if rec.Removed || rec.source() != source {
			continue
		}
		rec.Removed = true
		if _, err := kv.Update(ctx, name, mustJSON(rec), entry.Revision()); err != nil {
			return nil, fmt.Errorf("record scope %s removed: %w", name, err)
		}
		marked = append(marked, name)
	}
	return marked, nil
}

// storedScope is a scope's record in ScopeBucket as New read it, once
// for every use at start (readScopes): rec, and the revision to update
// it at; found is false if there is none.
type storedScope struct {
	rec   ScopeRecord
	rev   uint64
	found bool
}

// readScope reads the record of scope name.
func readScope(ctx context.Context, kv jetstream.KeyValue, name string) (storedScope, error) {
	entry, err := kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return storedScope{}, nil
	}
	if err != nil {
		return storedScope{}, fmt.Errorf("read scope %s: %w", name, err)
	}
	st := storedScope{rev: entry.Revision(), found: true}
	if err := json.Unmarshal(entry.Value(), &st.rec); err != nil {
		return storedScope{}, fmt.Errorf("read scope %s: %w", name, err)
	}
	return st, nil
}

// readScopes reads the records of list, several at a time
// (prepareParallel): a hub with a thousand spoke scopes waited on a
// thousand reads one after the other. It returns them in list's order, or
// the first error once every read it started is done.
func readScopes(ctx context.Context, kv jetstream.KeyValue, list []*scopes.Scope) ([]storedScope, error) {
	out := make([]storedScope, len(list))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(prepareParallel)
	for i, s := range list {
		g.Go(func() (err error) {
			out[i], err = readScope(ctx, kv, s.Name)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// returning reports whether st, the record of scope s, says the scope was
// removed (markRemoved), and, with forget, clears the mark in st and in
// kv once forget (which deletes the scope's snapshot records) succeeded.
func returning(ctx context.Context, kv jetstream.KeyValue, s *scopes.Scope, st *storedScope, forget func() error) (bool, error) {
	if !st.found || !st.rec.Removed {
		return false, nil
	}
	if err := forget(); err != nil {
		return true, err
	}
	rec := st.rec
	rec.Removed = false
	rev, err := kv.Update(ctx, s.Name, mustJSON(rec), st.rev)
	if err != nil {
		return true, fmt.Errorf("record scope %s back: %w", s.Name, err)
	}
	st.rec, st.rev = rec, rev
	return true, nil
}

// ScopeVersion is one definition of a scope.
type ScopeVersion struct {
	Version    int             `json:"version"`
	Hash       string          `json:"hash"`
	Definition json.RawMessage `json:"definition"`
	// Pending marks a version whose switch point the router has not read
	// from the source log yet: changes are routed by the version in
	// effect before it. A version that never took effect (the definition
	// changed again first) stays pending in History.
	Pending bool `json:"pending,omitempty"`
	// Switch is the source position of the transaction of the switch
	// point at which the version took effect: changes at or after it are
	// routed by it. Nil for a version in effect from the scope's start
	// (version 1, or one recorded before syncd kept switch points).
	Switch *capture.Position `json:"switch,omitempty"`
}

// effective returns the latest version of rec that took effect before
// its last one: the definition that changes before a switch point of
// the last version are routed by. It returns false if there is none.
func (rec *ScopeRecord) effective() (ScopeVersion, bool) {
	for i := len(rec.History) - 1; i >= 0; i-- {
		if !rec.History[i].Pending {
			return rec.History[i], true
		}
	}
	return ScopeVersion{}, false
}

// scopeVersion returns the scope's record after recording s, given st,
// its record as read (readScopes): a new scope's version 1, in effect
// from the start; for a changed definition one version more than the
// last, pending until its switch point is read from the source log, with
// the last kept in History. Concurrent writers are detected by revision,
// so two instances never hand out the same version for different
// definitions.
func scopeVersion(ctx context.Context, kv jetstream.KeyValue, s *scopes.Scope, st storedScope) (ScopeRecord, error) {
	rec := ScopeRecord{ScopeVersion: ScopeVersion{Version: 1, Hash: s.Hash(), Definition: s.Definition()}}
	if !st.found {
		if _, err := kv.Create(ctx, s.Name, mustJSON(rec)); err != nil {
			return rec, fmt.Errorf("record scope %s: %w", s.Name, err)
		}
		return rec, nil
	}
	old := st.rec
	if old.Hash == rec.Hash {
		return old, nil
	}
	rec.Version, rec.Pending = old.Version+1, true
	rec.History = append(old.History, old.ScopeVersion)
	if _, err := kv.Update(ctx, s.Name, mustJSON(rec), st.rev); err != nil {
		return rec, fmt.Errorf("record scope %s version %d: %w", s.Name, rec.Version, err)
	}
	return rec, nil
}

// recordSwitch records that version of scope took effect at pos, unless
// the record says it already did, or its last version is another one.
func recordSwitch(ctx context.Context, kv jetstream.KeyValue, scope string, version int, pos capture.Position) error {
	entry, err := kv.Get(ctx, scope)
	if err != nil {
		return fmt.Errorf("read scope %s: %w", scope, err)
	}
	var rec ScopeRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return fmt.Errorf("read scope %s: %w", scope, err)
	}
	if rec.Version != version || !rec.Pending {
		return nil
	}
	rec.Pending, rec.Switch = false, &pos
	if _, err := kv.Update(ctx, scope, mustJSON(rec), entry.Revision()); err != nil {
		return fmt.Errorf("record the switch point of scope %s version %d: %w", scope, version, err)
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on types that always marshal
	}
	return b
}
