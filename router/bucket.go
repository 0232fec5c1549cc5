package router

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// openBucket opens one of syncd's KV buckets, creating it if needed,
// file-stored with replicas replicas (at least 1), each key keeping its
// last value only.
func (c *Conn) openBucket(ctx context.Context, bucket, description string, replicas int) (jetstream.KeyValue, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: description,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	return kv, nil
}
