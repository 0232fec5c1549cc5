package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Tail passes the envelopes of a scope's row changes to f in stream order,
// one at a time, also from messages that hold several: from the first
// stored message, or only new ones with fromNow. It returns when
// ctx is done (with ctx's error) or when f returns an error (with it; f
// returns ErrTailDone to stop).
func Tail(ctx context.Context, conn *Conn, scope string, fromNow bool, f func(body []byte) error) error {
	js, err := jetstream.New(conn.nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	stream, err := openScopeStream(ctx, js, scope)
	if errors.Is(err, ErrNoStream) {
		return fmt.Errorf("scope %q has no stream: is syncd publishing it?", scope)
	}
	if err != nil {
		return err
	}
	name := stream.CachedInfo().Config.Name
	policy := jetstream.DeliverAllPolicy
	if fromNow {
		policy = jetstream.DeliverNewPolicy
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: policy, FilterSubjects: []string{RowSubjects(scope)}})
	if err != nil {
		return fmt.Errorf("create consumer on %s: %w", name, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", name, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("consume %s: %w", name, err)
		}
		rows := []json.RawMessage{m.Data()}
		if IsPack(m.Data()) {
			if err := json.Unmarshal(m.Data(), &rows); err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
		}
		for _, row := range rows {
			if err := f(row); err != nil {
				return err
			}
		}
	}
}

// ErrTailDone is returned by a Tail callback to stop tailing.
var ErrTailDone = errors.New("tail done")
