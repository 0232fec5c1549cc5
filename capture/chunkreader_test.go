package capture

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestChunkReader: a read's rows are there once it has handed them over;
// Failed reports an error without waiting and leaves a success for Wait;
// Stop cancels a read still waiting for its delay.
func TestChunkReader(t *testing.T) {
	ctx := context.Background()
	c := NewChunkReader[int]()
	if _, ok := c.Rows(); ok {
		t.Fatal("rows before any read")
	}
	handed := make(chan struct{})
	release := make(chan struct{})
	c.Start(ctx, 0, func(_ context.Context, hand func(int)) error {
		hand(7)
		close(handed)
		<-release
		return nil
	})
	<-handed
	if err := c.Failed(); err != nil {
		t.Fatalf("Failed() = %v while the read runs", err)
	}
	if r, ok := c.Rows(); !ok || r != 7 {
		t.Fatalf("Rows() = %v, %v, want 7, true", r, ok)
	}
	close(release)
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}

	boom := errors.New("boom")
	c.Start(ctx, 0, func(context.Context, func(int)) error { return boom })
	if err := c.Wait(); !errors.Is(err, boom) {
		t.Fatalf("Wait() = %v, want boom", err)
	}

	c.Start(ctx, 0, func(context.Context, func(int)) error { return nil })
	for len(c.done) == 0 { // the read has ended
		runtime.Gosched()
	}
	if err := c.Failed(); err != nil { // nil, and left for Wait
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}

	c.Start(ctx, time.Hour, func(context.Context, func(int)) error { return nil })
	c.Stop()
	if err := c.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait() after Stop = %v, want context.Canceled", err)
	}
}
