package router

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd-dev/syncd/capture"
)

// publisher cuts one scope's row changes into messages, in order, and
// hands them to its stream's writer, which it may share with the other
// spokes of the scope's template (StreamFor). Each message's Nats-Msg-Id
// names the scope, source, position and row of its last row, so that the
// scope's last message in the stream tells where it resumes after a
// restart (lastStored): changes at or below it are skipped.
//
// The router goroutine calls enqueue, endTxn and sendHeld. After the
// writer's first error the publisher is failed for good.
type publisher struct {
	scope, source string
	w             *writer
	pack          int // scope's rows_per_message
	skipped       prometheus.Counter

	// Owned by the router goroutine.
	resume  resumePoint
	batchNo uint64 // the writer's batch this publisher last sent a message in
	lastSeq uint64 // the stream sequence of its last message sent

	sent     atomic.Uint64 // lastSeq once its batch was dispatched, for other goroutines (Router.Pace)
	streamed atomic.Int64  // when its last transaction other than a snapshot ended, in Unix nanoseconds (Router.Pace)
	txn      *capture.Txn
	txnPos   string // txn.Pos as text
	seq      int    // rows of txn for this scope so far
	held     *nats.Msg
	heldLast int // offset of its last row's txn.last in held.Data
	heldRows int
	heldSeq  int // txn.seq of its last row
	heldKey  packKey
	row      []byte // a row's envelope, before it joins a pack
}

// Limits of a message holding several rows, and of a batch.
const (
	maxPackBytes  = 128 << 10 // a pack takes no row that would make it larger
	maxBatchBytes = 4 << 20   // nor does a batch

	// The rows of a snapshot transaction go in packs of up to
	// snapshotPackRows rows and maxSnapshotPackBytes whatever the scope's
	// rows_per_message: they come in bulk and wait for the copy's end at
	// the targets anyway, so they are not latency sensitive. The bytes
	// stay under NATS's default max_payload of 1 MiB, which an external
	// server may keep.
	snapshotPackRows     = 1000
	maxSnapshotPackBytes = 512 << 10

	// A batch of up to maxSingles messages and maxSinglesBytes goes as
	// single messages: on a 2-core VM, storing 16 messages one by one
	// took as long as one atomic batch, 8 half as long, 1 a tenth.
	maxSingles      = 16
	maxSinglesBytes = 1 << 20
)

// packKey is what the rows of one message have in common.
type packKey struct {
	plan   *plan
	op     capture.Op
	reason string
	target string
}

// enqueue takes the scope's next row change of txn. Each scope holds back
// its latest message until the next one or the commit, so that the last
// row of a transaction goes out marked txn.last. With rows_per_message
// above 1 the held message is a pack that takes the following rows of
// the same table, op and reason until it is full.
func (p *publisher) enqueue(ctx context.Context, m *message, now time.Time) error {
	if p.txn != m.ev.Txn {
		p.txn, p.seq = m.ev.Txn, 0
		p.txnPos = m.ev.Txn.Pos.String()
	}
	p.seq++
	m.seq = p.seq
	if p.resume.covers(m.ev.Txn.Pos, p.seq) {
		p.skipped.Inc()
		return nil
	}
	m.plan.events[m.op].Inc()
	pack, packBytes := p.packLimits()
	if pack == 1 {
		if err := p.sendHeld(ctx); err != nil {
			return err
		}
		p.held, p.heldRows, p.heldSeq = p.open(m, 512), 1, m.seq
		p.held.Data, p.heldLast = appendBody(p.held.Data, m, now)
		return nil
	}
	// A row joins the held pack if it fits whole: a pack passes
	// packBytes only when its one row does.
	var last int
	p.row, last = appendBody(p.row[:0], m, now)
	key := packKey{m.plan, m.op, m.reason, m.target}
	if p.held == nil || p.heldKey != key || p.heldRows == pack || len(p.held.Data)+1+len(p.row) > packBytes {
		if err := p.sendHeld(ctx); err != nil {
			return err
		}
		// Room for a full pack of rows like this one.
		p.held, p.heldRows, p.heldKey = p.open(m, min(packBytes, pack*(len(p.row)+1)+1)), 0, key
	}
	sep := byte(',')
	if p.heldRows == 0 {
		sep = '['
	}
	p.heldLast = len(p.held.Data) + 1 + last
	p.held.Data = append(append(p.held.Data, sep), p.row...)
	p.heldRows++
	p.heldSeq = m.seq
	return nil
}

// packLimits returns the most rows and bytes a message of the current
// transaction holds: the scope's rows_per_message and maxPackBytes, or,
// in a snapshot transaction, at least snapshotPackRows and
// maxSnapshotPackBytes. A message of more than one row at most is a pack.
func (p *publisher) packLimits() (rows, bytes int) {
	if p.txn.Snapshot {
		return max(p.pack, snapshotPackRows), maxSnapshotPackBytes
	}
	return p.pack, maxPackBytes
}

// sendHeld sends the held message, if any.
func (p *publisher) sendHeld(ctx context.Context) error {
	if p.held == nil {
		return nil
	}
	return p.send(ctx, p.seal(), 0)
}

// holds reports whether the publisher has a message of txn held back.
func (p *publisher) holds(txn *capture.Txn) bool { return p.held != nil && p.txn == txn }

// endTxn sends the held last message of the transaction, which the tracker
// knows as id and which ends at now. The router then ends the writer's
// batch (writer.endTxn) once every scope of the writer sent its last
// message.
func (p *publisher) endTxn(ctx context.Context, id uint64, now time.Time) error {
	if !p.txn.Snapshot {
		p.streamed.Store(now.UnixNano())
	}
	p.held.Data = setLast(p.held.Data, p.heldLast, p.txn.CopyEnd)
	return p.send(ctx, p.seal(), id)
}

// open returns a message for m's row and those packed with it, with no
// body yet and room for size bytes of it.
func (p *publisher) open(m *message, size int) *nats.Msg {
	msg := &nats.Msg{
		Subject: m.plan.subjects[m.op],
		Data:    make([]byte, 0, size),
		Header: nats.Header{
			HeaderOp:   {m.op.String()},
			HeaderTxn:  {m.ev.Txn.ID},
			HeaderPos:  {p.txnPos},
			HeaderType: contentTypeJSON,
		},
	}
	if m.target != "" {
		msg.Header[HeaderTarget] = []string{m.target}
	}
	if o := m.ev.Txn.Origin; o != "" {
		msg.Header[HeaderOrigin] = []string{o}
	}
	return msg
}

// seal finishes the held message and returns it. Its id names its last
// row, so that the stream's last message tells where to resume.
func (p *publisher) seal() *nats.Msg {
	msg := p.held
	p.held = nil
	if rows, _ := p.packLimits(); rows > 1 {
		msg.Data = append(msg.Data, ']')
		msg.Header[HeaderRows] = []string{strconv.Itoa(p.heldRows)}
	}
	msg.Header[HeaderMsgID] = []string{string(appendMsgID(make([]byte, 0, 64), p.scope, p.source, p.txn.Pos, p.heldSeq))}
	return msg
}

var contentTypeJSON = []string{ContentTypeJSON}

// send hands msg to the stream's writer.
func (p *publisher) send(ctx context.Context, msg *nats.Msg, id uint64) error {
	return p.w.send(ctx, p, msg, id)
}

// error returns the writer's error, if it failed.
func (p *publisher) error() error { return p.w.error() }
