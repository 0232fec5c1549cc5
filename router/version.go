package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/scopes"
)

// ScopeBucket is the KV bucket that records each scope's definition and
// version.
const ScopeBucket = "syncd_scopes"

// ScopeRecord is a scope's entry in ScopeBucket.
type ScopeRecord struct {
	Version    int             `json:"version"`
	Hash       string          `json:"hash"`
	Definition json.RawMessage `json:"definition"`
}

// scopeVersion returns the scope's version: 1 for a new scope, one more
// than the recorded version when its definition changed. Concurrent
// writers are detected by revision, so two instances never hand out the
// same version for different definitions.
func scopeVersion(ctx context.Context, kv jetstream.KeyValue, s *scopes.Scope) (int, error) {
	rec := ScopeRecord{Version: 1, Hash: s.Hash(), Definition: s.Definition()}
	entry, err := kv.Get(ctx, s.Name)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if _, err := kv.Create(ctx, s.Name, mustJSON(rec)); err != nil {
			return 0, fmt.Errorf("record scope %s: %w", s.Name, err)
		}
		return 1, nil
	case err != nil:
		return 0, fmt.Errorf("read scope %s: %w", s.Name, err)
	}
	var old ScopeRecord
	if err := json.Unmarshal(entry.Value(), &old); err != nil {
		return 0, fmt.Errorf("read scope %s: %w", s.Name, err)
	}
	if old.Hash == rec.Hash {
		return old.Version, nil
	}
	rec.Version = old.Version + 1
	if _, err := kv.Update(ctx, s.Name, mustJSON(rec), entry.Revision()); err != nil {
		return 0, fmt.Errorf("record scope %s version %d: %w", s.Name, rec.Version, err)
	}
	return rec.Version, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on types that always marshal
	}
	return b
}
