package router

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// buckets are syncd's KV buckets: their descriptions and how many values
// each key keeps (0: the server's default, one).
var buckets = map[string]struct {
	description string
	history     uint8
}{
	PositionBucket: {"syncd source read positions", 1},
	ControlBucket:  {"syncd scope controls (paused scopes)", 1},
	ScopeBucket:    {"syncd scope definitions and versions", 10},
	SchemaBucket:   {"syncd scope table schemas", 0},
	SnapshotBucket: {"syncd initial snapshots taken", 0},
}

// openBucket opens one of syncd's KV buckets (see buckets), creating it
// if needed, file-stored with replicas replicas (at least 1).
func openBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, error) {
	b := buckets[bucket]
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: b.description,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
		History:     b.history,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// openBucket opens one of syncd's KV buckets on c, as openBucket does.
func (c *Conn) openBucket(ctx context.Context, bucket string, replicas int) (jetstream.KeyValue, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	return openBucket(ctx, js, bucket, replicas)
}

// allowAtomicBucket lets bucket's stream take atomic batches (putRecords)
// and reports whether it does. Opening the bucket again (openBucket)
// turns that off, and a batch then fails: callers fall back to one write
// per key.
func allowAtomicBucket(ctx context.Context, js jetstream.JetStream, bucket string) (bool, error) {
	s, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return false, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	cfg := s.CachedInfo().Config
	if cfg.AllowAtomicPublish {
		return true, nil
	}
	cfg.AllowAtomicPublish = true
	if s, err = js.UpdateStream(ctx, cfg); err != nil {
		return false, fmt.Errorf("let bucket %s take atomic batches: %w", bucket, err)
	}
	return s.CachedInfo().Config.AllowAtomicPublish, nil
}
