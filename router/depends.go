package router

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// SnapshotWatch reports changes to the snapshot records of one scope in
// SnapshotBucket. Updates receives a value for each change; Stop ends
// the watch and must be called.
type SnapshotWatch struct {
	w jetstream.KeyWatcher
}

// WatchSnapshots watches the snapshot records of scope: each record
// written (a snapshot taken) or deleted (a snapshot to take again) sends
// on Updates. It creates the bucket as the router does if it does not
// exist yet, with replicas, so that a watch may start before the router.
func (c *Conn) WatchSnapshots(ctx context.Context, scope string, replicas int) (*SnapshotWatch, error) {
	kv, err := c.openBucket(ctx, SnapshotBucket, replicas)
	if err != nil {
		return nil, err
	}
	w, err := kv.Watch(ctx, scope+".>", jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch snapshots of scope %s: %w", scope, err)
	}
	return &SnapshotWatch{w: w}, nil
}

// Updates receives a value for each change of the scope's records.
func (s *SnapshotWatch) Updates() <-chan jetstream.KeyValueEntry { return s.w.Updates() }

// Stop ends the watch.
func (s *SnapshotWatch) Stop() { _ = s.w.Stop() }
