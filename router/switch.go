package router

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// A scope's new definition takes effect at a switch point in the source
// log (DESIGN.md §8, docs/scope-versions.md). Until the router reaches
// it, the scope's changes are routed by the definition in effect before,
// rebuilt from ScopeBucket, and carry its version; from it on by the
// config's. The point is recorded in ScopeBucket once read, so a replay
// of the log after a crash switches at the same transaction.

// definition is a definition of a scope and its version.
type definition struct {
	scope   *scopes.Scope
	version int
}

// scopeSwitch is a scope's pending change of definition.
type scopeSwitch struct {
	next definition       // the config's, which takes effect at the switch point
	at   capture.Position // the switch point's transaction; 0 until read from the log
}

var _ capture.Switcher = (*Router)(nil)

// prepareSwitch sets which definition of s is in effect when the router
// starts, given s's record: the config's, or the one before it while
// the log has not reached the switch point of the config's (pending, or
// recorded at a position a replay may not have reached).
func (r *Router) prepareSwitch(s *scopes.Scope, rec ScopeRecord) {
	r.inEffect[s.Name] = definition{scope: s, version: rec.Version}
	if !rec.Pending && (rec.Switch == nil || *rec.Switch == 0) {
		return
	}
	prev, ok := rec.effective()
	if !ok {
		return
	}
	old, err := oldDefinition(prev.Definition, s)
	if err != nil {
		r.log.Warn("cannot route by the scope's previous definition before its switch point; the new one takes effect at once",
			"scope", s.Name, "version", rec.Version, "previous", prev.Version, "error", err)
		return
	}
	sw := &scopeSwitch{next: r.inEffect[s.Name]}
	if rec.Switch != nil {
		sw.at = *rec.Switch
	}
	r.switches[s.Name] = sw
	r.inEffect[s.Name] = definition{scope: old, version: prev.Version}
}

// oldDefinition rebuilds a recorded definition of cfg's scope. A table
// mapping equal to the config's is the config's, whose hash key a
// recorded definition does not hold; one that hashes with another key
// cannot be rebuilt.
func oldDefinition(def json.RawMessage, cfg *scopes.Scope) (*scopes.Scope, error) {
	old, err := scopes.ParseDefinition(def)
	if err != nil {
		return nil, err
	}
	for _, t := range old.Tables {
		if t.Mapping == nil {
			continue
		}
		d := t.Mapping.Definition()
		i := slices.IndexFunc(cfg.Tables, func(c *scopes.Table) bool { return c.ID == t.ID && c.Mapping != nil })
		if i >= 0 && bytes.Equal(cfg.Tables[i].Mapping.Definition(), d) {
			t.Mapping = cfg.Tables[i].Mapping
			continue
		}
		var key struct {
			Key string `json:"hash_key"`
		}
		if json.Unmarshal(d, &key) == nil && key.Key != "" {
			return nil, fmt.Errorf("the mapping of %s hashes with a key syncd no longer has", t.ID)
		}
	}
	out := *cfg // what is not part of a definition is the config's
	out.Tables = old.Tables
	for _, t := range out.Tables {
		t.Scope = &out
	}
	return &out, nil
}

// Switches implements capture.Switcher.
func (r *Router) Switches() []capture.Switch {
	r.switchesAsked = true
	var out []capture.Switch
	for _, name := range slices.Sorted(maps.Keys(r.switches)) {
		if sw := r.switches[name]; sw.at == 0 {
			out = append(out, capture.Switch{Scope: name, Version: sw.next.version})
		}
	}
	return out
}

// Switched implements capture.Switcher: it records where sw took effect
// and routes the scope by its new definition from txn on.
func (r *Router) Switched(ctx context.Context, txn *capture.Txn, sw capture.Switch) error {
	s := r.switches[sw.Scope]
	if s == nil || s.next.version != sw.Version || s.at != 0 {
		return nil
	}
	if err := recordSwitch(ctx, r.scopeKV, sw.Scope, sw.Version, txn.Pos); err != nil {
		return err
	}
	s.at = txn.Pos
	return r.switchAt(ctx, txn)
}

// switchAt takes into effect the versions whose switch points are at or
// before txn. It runs as each transaction begins, and when a switch
// point is read. A source that writes no switch points (it never asked
// for them) gets every pending version at its first transaction, which
// is recorded as the switch point.
func (r *Router) switchAt(ctx context.Context, txn *capture.Txn) error {
	if len(r.switches) == 0 {
		return nil
	}
	var changed bool
	for _, name := range slices.Sorted(maps.Keys(r.switches)) {
		sw := r.switches[name]
		if sw.at == 0 && r.switchesAsked || sw.at > txn.Pos {
			continue
		}
		if sw.at == 0 {
			if err := recordSwitch(ctx, r.scopeKV, name, sw.next.version, txn.Pos); err != nil {
				return err
			}
		}
		r.log.Info("scope definition switched", "scope", name, "version", sw.next.version, "previous", r.inEffect[name].version, "switch_point", txn.Pos)
		r.inEffect[name] = sw.next
		delete(r.switches, name)
		changed = true
	}
	if changed {
		r.reindex()
	}
	return nil
}

// reindex indexes the scope tables of the definitions in effect.
func (r *Router) reindex() {
	defs := make([]*scopes.Scope, 0, len(r.inEffect))
	for _, d := range r.inEffect {
		defs = append(defs, d.scope)
	}
	r.index = scopes.NewIndex(defs)
	clear(r.routes)
}

// versionOf returns the version of def, the definition of its scope in
// effect: the only one the router routes by (reindex), so the only one it
// makes plans of.
func (r *Router) versionOf(def *scopes.Scope) int { return r.inEffect[def.Name].version }

// unfinishedBefore reports whether the definition of st in effect before
// its scope's last change (the version before the config's) is not the
// one rec, the table's last snapshot done, copied, nor a later one: its
// diff never finished, and since its switch point live changes went out
// by it, so the targets may hold rows that neither rec's definition nor
// the config's admit. stored is the record of st's scope s in
// ScopeBucket as read before the config's version is recorded; none, or
// an unreadable definition, counts as finished, as before syncd kept the
// history.
func unfinishedBefore(s *scopes.Scope, st *scopes.Table, rec *snapshotRecord, stored storedScope) bool {
	if !stored.found {
		return false
	}
	sr := stored.rec
	prev, ok := sr.ScopeVersion, !sr.Pending
	if sr.Hash == s.Hash() || !ok {
		prev, ok = sr.effective()
	}
	if !ok {
		return false
	}
	for _, v := range append(slices.Clone(sr.History), sr.ScopeVersion) {
		if v.Version < prev.Version {
			continue
		}
		def, err := scopes.ParseDefinition(v.Definition)
		if err != nil {
			return false
		}
		i := slices.IndexFunc(def.Tables, func(t *scopes.Table) bool { return t.ID == st.ID })
		if i < 0 || definitionHash(def.Tables[i]) == rec.Hash {
			return false
		}
	}
	return true
}
