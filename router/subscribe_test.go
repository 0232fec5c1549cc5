package router

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestSubscribeResumesByPosition: a subscription resumes after a target's
// checkpoint by source position, not by stream sequence, so it is exact
// after a NATS server lost its last unsynced messages and the stream was
// numbered anew; and it fails with ErrCheckpointGone when retention
// removed messages the target has not applied.
func TestSubscribeResumesByPosition(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	cfg := testConfig(t)
	r := newRouter(t, conn, cfg, 1000)
	f := &feeder{t: t, r: r}
	f.txn(2, true) // position 100: messages 1, 2
	f.txn(2, true) // 200: 3, 4
	f.txn(1, true) // 300: 5
	drain(t, r)
	ctx := context.Background()
	expectNext(t, conn, &Resume{Pos: 100, StreamSeq: 2}, 3, 200)

	// The server loses messages 3 to 5 after the target applied them (the
	// target's checkpoint: position 300, message 5). Position 400 then
	// becomes message 3.
	r.Close()
	js, err := jetstream.New(conn.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, StreamName("s")); err != nil {
		t.Fatal(err)
	}
	f.replay(newRouter(t, conn, cfg, 1000), 0, 0)
	f.txn(2, true) // 100: 1, 2
	f.replay(f.r, 300, 5)
	f.txn(1, true) // 400: 3
	drain(t, f.r)
	expectNext(t, conn, &Resume{Pos: 300, StreamSeq: 5}, 3, 400)

	// Retention removes messages 1 and 2: a target at message 1 cannot go on.
	stream, err := js.Stream(ctx, StreamName("s"))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSequence(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Subscribe(ctx, "s", "app", &Resume{Pos: 100, StreamSeq: 1}); !errors.Is(err, ErrCheckpointGone) {
		t.Fatalf("Subscribe after message 1 of a stream that starts at 3: %v, want ErrCheckpointGone", err)
	}
	expectNext(t, conn, &Resume{Pos: 100, StreamSeq: 2}, 3, 400)
}

// expectNext subscribes to scope s after from and checks the first
// delivery: stream message seq, of the transaction at pos.
func expectNext(t *testing.T, conn *Conn, from *Resume, seq uint64, pos capture.Position) {
	t.Helper()
	sub, err := conn.Subscribe(context.Background(), "s", "app", from)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	d, err := sub.Next(context.Background(), 10*time.Second)
	if err != nil {
		t.Fatalf("first delivery after %+v: %v", *from, err)
	}
	if d.StreamSeq != seq || d.Rows[0].Source.Pos != pos {
		t.Fatalf("first delivery after %+v: message %d at %s, want message %d at %s", *from, d.StreamSeq, d.Rows[0].Source.Pos, seq, pos)
	}
}
