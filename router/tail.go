package router

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Tail passes the bodies of a scope's messages to f in stream order: from
// the first stored message, or only new ones with fromNow. It returns when
// ctx is done (with ctx's error) or when f returns an error (with it; f
// returns ErrTailDone to stop).
func Tail(ctx context.Context, conn *Conn, scope string, fromNow bool, f func(body []byte) error) error {
	js, err := jetstream.New(conn.nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	stream, err := js.Stream(ctx, StreamName(scope))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("scope %q has no stream %s: is syncd publishing it?", scope, StreamName(scope))
	}
	if err != nil {
		return fmt.Errorf("open stream %s: %w", StreamName(scope), err)
	}
	policy := jetstream.DeliverAllPolicy
	if fromNow {
		policy = jetstream.DeliverNewPolicy
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: policy})
	if err != nil {
		return fmt.Errorf("create consumer on %s: %w", StreamName(scope), err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", StreamName(scope), err)
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
			return fmt.Errorf("consume %s: %w", StreamName(scope), err)
		}
		if err := f(m.Data()); err != nil {
			return err
		}
	}
}

// ErrTailDone is returned by a Tail callback to stop tailing.
var ErrTailDone = errors.New("tail done")
