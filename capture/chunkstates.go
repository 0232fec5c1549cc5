package capture

import "context"

// ChunkStates holds the states a chunked backfill reached after each
// chunk it sent (see Snapshotter), until the chunk is durable and the
// state can be recorded with SnapshotProgressed. It is used by one
// goroutine.
type ChunkStates struct {
	q []chunkState
}

type chunkState struct {
	ack   Position
	state []byte
	rows  int64
}

// Sent notes the state after a chunk sent in a transaction of Ack ack,
// rows being the rows sent so far.
func (c *ChunkStates) Sent(ack Position, state []byte, rows int64) {
	c.q = append(c.q, chunkState{ack: ack, state: state, rows: rows})
}

// Durable removes the states of the chunks that are durable, given the
// sink's Durable report, and returns the last of them (ok false if
// none). A chunk counts as durable once a transaction after it is, or
// once every transaction is: a chunk may share its Ack with the
// watermark's transaction before it, which the sink may report durable
// first.
func (c *ChunkStates) Durable(durable Position, idle bool) (ack Position, state []byte, rows int64, ok bool) {
	n := 0
	for n < len(c.q) && (idle || c.q[n].ack < durable) {
		n++
	}
	if n == 0 {
		return 0, nil, 0, false
	}
	last := c.q[n-1]
	c.q = append(c.q[:0], c.q[n:]...)
	return last.ack, last.state, last.rows, true
}

// Record records with sn the state after the last chunk of req that sink
// reports durable, if any, and returns its Ack: the source confirms no
// position past it from then on, so that a restart resumes from the
// state and replays every change after it.
func (c *ChunkStates) Record(ctx context.Context, sink Sink, sn Snapshotter, req SnapshotRequest) (ack Position, ok bool, err error) {
	ack, state, rows, ok := c.Durable(sink.Durable())
	if !ok {
		return 0, false, nil
	}
	if err := sn.SnapshotProgressed(ctx, req, state, rows); err != nil {
		return 0, false, err
	}
	return ack, true, nil
}
