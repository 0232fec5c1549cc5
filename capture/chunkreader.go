package capture

import (
	"context"
	"sync"
	"time"
)

// ChunkReader runs the reads of a chunked backfill (see Snapshotter), one
// chunk at a time, each on a goroutine it owns, and hands their results
// to the session goroutine that reads the log. A read writes the chunk's
// low watermark, reads the chunk, hands the rows over, and only then
// writes the high watermark, so that the session has the rows when the
// high watermark arrives in the log. Its methods are called from the
// session goroutine.
type ChunkReader[R any] struct {
	res    chan R
	done   chan error
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewChunkReader returns a ChunkReader with no read in flight.
func NewChunkReader[R any]() *ChunkReader[R] {
	return &ChunkReader[R]{res: make(chan R, 1), done: make(chan error, 1)}
}

// Start runs read on a new goroutine after delay, under a context that
// Stop and the next Start cancel. read hands its rows over with hand,
// once. The previous read, if any, must have ended (Wait).
func (c *ChunkReader[R]) Start(ctx context.Context, delay time.Duration, read func(ctx context.Context, hand func(R)) error) {
	if c.cancel != nil {
		c.cancel()
	}
	ctx, c.cancel = context.WithCancel(ctx)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				c.done <- ctx.Err()
				return
			}
		}
		c.done <- read(ctx, func(r R) { c.res <- r })
	}()
}

// Rows returns the rows the read in flight handed over, if it has.
func (c *ChunkReader[R]) Rows() (R, bool) {
	select {
	case r := <-c.res:
		return r, true
	default:
		var zero R
		return zero, false
	}
}

// Wait waits until the read in flight has ended and returns its error.
func (c *ChunkReader[R]) Wait() error { return <-c.done }

// Failed returns the error of the read in flight if it has ended with
// one, without waiting; nil otherwise.
func (c *ChunkReader[R]) Failed() error {
	select {
	case err := <-c.done:
		if err != nil {
			return err
		}
		c.done <- nil // put it back for Wait
	default:
	}
	return nil
}

// Stop cancels the read in flight, if any, and waits until it has ended.
func (c *ChunkReader[R]) Stop() {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
}
