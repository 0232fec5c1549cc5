package router

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// PositionBucket is the KV bucket that holds the read position of sources
// whose servers keep none for syncd: a MySQL binlog reader is a replica
// the server does not remember, unlike a PostgreSQL slot.
const PositionBucket = "syncd_positions"

// Positions stores one opaque position record per source. A source saves
// only positions whose changes are durable in their streams, so a restart
// from a saved position loses nothing; it may repeat changes, which the
// streams' message ids and the routers' resume check drop.
type Positions struct {
	kv jetstream.KeyValue
}

// Positions opens the position bucket, creating it if needed.
func (c *Conn) Positions(ctx context.Context, replicas int) (*Positions, error) {
	kv, err := c.openBucket(ctx, PositionBucket, replicas)
	if err != nil {
		return nil, err
	}
	return &Positions{kv: kv}, nil
}

// Load returns source's saved position, or nil if it has none.
func (p *Positions) Load(ctx context.Context, source string) ([]byte, error) {
	e, err := p.kv.Get(ctx, positionKey(source))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load position of source %s: %w", source, err)
	}
	return e.Value(), nil
}

// Save replaces source's saved position. It returns once the server
// stored it.
func (p *Positions) Save(ctx context.Context, source string, state []byte) error {
	if _, err := p.kv.Put(ctx, positionKey(source), state); err != nil {
		return fmt.Errorf("save position of source %s: %w", source, err)
	}
	return nil
}

// Delete forgets source's position, so that it starts afresh.
func (p *Positions) Delete(ctx context.Context, source string) error {
	if err := p.kv.Delete(ctx, positionKey(source)); err != nil {
		return fmt.Errorf("delete position of source %s: %w", source, err)
	}
	return nil
}

// positionKey is a source's key. Source names ([a-z][a-z0-9_-]*, see
// scopes) are valid KV keys as they are.
func positionKey(source string) string { return "source." + source }
