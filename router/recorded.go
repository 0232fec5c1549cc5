package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// The functions of this file read what a daemon recorded in JetStream,
// for syncd plan. They change nothing: no bucket, stream or consumer is
// created or updated, and a bucket or stream that does not exist reads as
// empty.

// RecordedScopes returns the entries of ScopeBucket by scope name.
func (c *Conn) RecordedScopes(ctx context.Context) (map[string]ScopeRecord, error) {
	out := map[string]ScopeRecord{}
	err := c.readBucket(ctx, ScopeBucket, func(key string, value []byte) error {
		var rec ScopeRecord
		if err := json.Unmarshal(value, &rec); err != nil {
			return fmt.Errorf("read scope %s: %w", key, err)
		}
		out[key] = rec
		return nil
	})
	return out, err
}

// ScopeDefinition returns the definition that ScopeBucket records as
// version of scope, and false if it records none (no bucket, no record
// of the scope, or not that version). It changes nothing.
func (c *Conn) ScopeDefinition(ctx context.Context, scope string, version int) (json.RawMessage, bool, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, false, fmt.Errorf("open jetstream: %w", err)
	}
	kv, err := js.KeyValue(ctx, ScopeBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open bucket %s: %w", ScopeBucket, err)
	}
	e, err := kv.Get(ctx, scope)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read scope %s: %w", scope, err)
	}
	var rec ScopeRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, false, fmt.Errorf("read scope %s: %w", scope, err)
	}
	for _, v := range append(rec.History, rec.ScopeVersion) {
		if v.Version == version {
			return v.Definition, true, nil
		}
	}
	return nil, false, nil
}

// SnapshotsDue returns the tables of s, in s's order, that a daemon
// running s would copy: those without a snapshot recorded for their
// current definition. It is empty for a scope with snapshot = "never".
func (c *Conn) SnapshotsDue(ctx context.Context, s *scopes.Scope) ([]capture.TableID, error) {
	return c.SnapshotsDueAt(ctx, s, "")
}

// SnapshotsDueAt is SnapshotsDue for target (every target if empty): it
// also returns the tables whose copy target does not hold yet, a target
// added to the scope.
func (c *Conn) SnapshotsDueAt(ctx context.Context, s *scopes.Scope, target string) ([]capture.TableID, error) {
	if s.Snapshot == scopes.SnapshotNever {
		return nil, nil
	}
	recorded := map[string]snapshotRecord{}
	err := c.readBucket(ctx, SnapshotBucket, func(key string, value []byte) error {
		var rec snapshotRecord
		if err := json.Unmarshal(value, &rec); err != nil {
			return fmt.Errorf("read snapshot state %s: %w", key, err)
		}
		recorded[key] = rec
		return nil
	})
	if err != nil {
		return nil, err
	}
	var due []capture.TableID
	for _, st := range s.Tables {
		rec, ok := recorded[tableKey{scope: s.Name, table: st.ID}.kv()]
		if !ok || rec.Hash != definitionHash(st) || target != "" && rec.Targets != nil && !slices.Contains(rec.Targets, target) {
			due = append(due, st.ID)
		}
	}
	return due, nil
}

// readBucket calls f with each key of bucket and its latest value, in
// no particular order. It lists the keys from the stream's subject
// counts rather than with a watcher, which would create a consumer.
func (c *Conn) readBucket(ctx context.Context, bucket string, f func(key string, value []byte) error) error {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	stream, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	prefix := "$KV." + bucket + "."
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return fmt.Errorf("list keys of bucket %s: %w", bucket, err)
	}
	for subject := range info.State.Subjects {
		key := strings.TrimPrefix(subject, prefix)
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s in bucket %s: %w", key, bucket, err)
		}
		if err := f(key, e.Value()); err != nil {
			return err
		}
	}
	return nil
}
