package router

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint"
)

// publisher writes one scope's messages to its stream in order.
//
// With atomic batches (nats-server 2.12+), messages are staged without a
// reply and each batch ends with an "eob" commit that the server answers
// once the whole batch is stored (and, with sync_always, fsynced). Every
// batch's first message carries Nats-Expected-Last-Sequence, so if one
// batch fails, every later one fails too: the stream never has a gap,
// however many batches are in flight.
//
// A batch that commits with at most maxSingles messages goes as single
// messages instead, each with a reply and the stream's expected last
// sequence and message id: those of the message sent before it, so that
// none is stored after one that was not, even if another writer's message
// took its place. The batch is stored when its last message is
// acknowledged. The server stages an atomic batch in a store of its own,
// made and removed for every batch: for a few messages that costs more
// than storing each with its fsync (BenchmarkDurableTxn), and small
// batches are what a source under light load sends, where latency counts.
// Such a batch is not atomic: after a crash the stream may end inside a
// source transaction, and the next router resumes there.
//
// Without atomic batches every message is its own batch of one, published
// with a reply and the same check.
//
// The router goroutine calls enqueue, endTxn and flush; acks arrive on the
// NATS subscription's goroutine. After the first error the publisher is
// failed for good; the router is then rebuilt from what the stream holds.
type publisher struct {
	scope, source string
	stream        string
	nc            *nats.Conn
	atomic        bool
	maxBatch      int
	singles       int // a batch of up to this many messages goes as singles: maxSingles
	pack          int // scope's rows_per_message
	ackTimeout    time.Duration
	tracker       *checkpoint.Tracker
	window        chan struct{} // one token per unacknowledged batch
	replyPrefix   string        // <inbox>.<publisher index>.
	commitSubject string
	wake          func()
	latency       prometheus.Observer
	inflightMsgs  prometheus.Gauge
	skipped       prometheus.Counter

	// Owned by the router goroutine.
	resume   resumePoint
	cur      *batch
	nextNo   uint64
	expected uint64 // the stream's last sequence once every batch sent is stored

	sent     atomic.Uint64 // expected, for other goroutines (Router.Pace)
	streamed atomic.Uint64 // transactions other than snapshots ended so far (Router.Pace)
	paced    atomic.Uint64 // streamed at the last Router.Pace
	txn      *capture.Txn
	txnPos   string // txn.Pos as text
	lastID   string // Nats-Msg-Id of the last message sent; empty before the first
	seq      int    // rows of txn for this scope so far
	held     *nats.Msg
	heldLast int // offset of its last row's txn.last in held.Data
	heldRows int
	heldSeq  int // txn.seq of its last row
	heldKey  packKey
	row      []byte // a row's envelope, before it joins a pack

	mu       sync.Mutex
	inflight []*batch // sent, not yet acknowledged, in order
	err      error
	failed   chan struct{} // closed with the first error
}

type batch struct {
	no     uint64
	id     string // atomic batch id; empty while the batch may go as singles
	reply  string
	first  uint64 // the stream's last sequence before this batch
	n      int
	bytes  int
	held   []*nats.Msg // its messages while it may still go as singles
	acks   int         // answers it awaits: set before dispatch, then counted down by ack
	txns   []uint64    // tracker ids of transactions whose last message is here
	sentAt time.Time
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
// knows as id, and ends the batch if it is at least half full, so that
// batches tend to end on transaction boundaries, or if no batch is in
// flight. The latter is group commit: a transaction reaches the server at
// once when the server is idle, and while it stores a batch the next one
// gathers the transactions that arrive meanwhile, so batches grow with
// the load and latency stays near one store time.
func (p *publisher) endTxn(ctx context.Context, id uint64) error {
	if !p.txn.Snapshot {
		p.streamed.Add(1)
	}
	p.held.Data = setLast(p.held.Data, p.heldLast, p.txn.CopyEnd)
	if err := p.send(ctx, p.seal(), id); err != nil {
		return err
	}
	if c := p.cur; c != nil && (c.n >= p.maxBatch/2 || c.bytes >= maxBatchBytes/2 || p.idle()) {
		return p.commit()
	}
	return nil
}

// idle reports whether no batch is in flight.
func (p *publisher) idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight) == 0
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

// send adds msg to the open batch, opening one if needed: it holds msg
// while the batch may still go as singles, and stages it in the batch's
// atomic batch otherwise. A non-zero id is a transaction whose last
// message msg is.
func (p *publisher) send(ctx context.Context, msg *nats.Msg, id uint64) error {
	if err := p.error(); err != nil {
		return err
	}
	if p.cur != nil && (p.cur.n >= p.maxBatch || p.cur.bytes >= maxBatchBytes) {
		if err := p.commit(); err != nil {
			return err
		}
	}
	if p.cur == nil {
		if err := p.acquire(ctx); err != nil {
			return err
		}
		p.nextNo++
		p.cur = &batch{no: p.nextNo, first: p.expected, reply: p.replyPrefix + strconv.FormatUint(p.nextNo, 10)}
	}
	b := p.cur
	if id != 0 {
		b.txns = append(b.txns, id)
	}
	b.n++
	b.bytes += len(msg.Data)
	if b.id != "" {
		return p.stage(b, msg, b.n)
	}
	b.held = append(b.held, msg)
	switch {
	case !p.atomic:
		return p.sendSingles(b) // a batch of one
	case b.n <= p.singles && b.bytes <= maxSinglesBytes:
		return nil
	}
	// Too many for singles: stage them all as an atomic batch.
	b.id = nuid.Next()
	for i, m := range b.held {
		if err := p.stage(b, m, i+1); err != nil {
			return err
		}
	}
	b.held = nil
	return nil
}

// stage publishes msg as message seq of b's atomic batch.
func (p *publisher) stage(b *batch, msg *nats.Msg, seq int) error {
	if seq == 1 {
		msg.Header[hdrExpectedLast] = []string{strconv.FormatUint(b.first, 10)}
	}
	p.lastID = msg.Header[HeaderMsgID][0]
	msg.Header[hdrBatchID] = []string{b.id}
	msg.Header[hdrBatchSeq] = []string{strconv.Itoa(seq)}
	if err := p.nc.PublishMsg(msg); err != nil {
		return p.fail(fmt.Errorf("publish to stream %s: %w", p.stream, err))
	}
	return nil
}

// commit sends the open batch: its held messages as singles, or the
// end-of-batch marker of its atomic batch, which is not stored; the server
// answers it once the batch is stored.
func (p *publisher) commit() error {
	b := p.cur
	if b == nil || b.n == 0 {
		return nil
	}
	if b.id == "" {
		return p.sendSingles(b)
	}
	eob := &nats.Msg{
		Subject: p.commitSubject,
		Reply:   b.reply,
		Header: nats.Header{
			hdrBatchID:     {b.id},
			hdrBatchSeq:    {strconv.Itoa(b.n + 1)},
			hdrBatchCommit: {"eob"},
		},
	}
	b.acks = 1
	return p.dispatch(b, eob)
}

// sendSingles sends b's held messages one by one, each with a reply and
// the stream's last sequence and message id before it.
func (p *publisher) sendSingles(b *batch) error {
	for i, m := range b.held {
		m.Header[hdrExpectedLast] = []string{strconv.FormatUint(b.first+uint64(i), 10)}
		if p.lastID != "" {
			m.Header[hdrExpectedID] = []string{p.lastID}
		}
		p.lastID = m.Header[HeaderMsgID][0]
		m.Reply = b.reply
	}
	b.acks = len(b.held)
	held := b.held
	b.held = nil
	return p.dispatch(b, held...)
}

// dispatch registers b as in flight and publishes its final messages.
func (p *publisher) dispatch(b *batch, msgs ...*nats.Msg) error {
	p.cur = nil
	p.expected += uint64(b.n)
	p.sent.Store(p.expected)
	b.sentAt = time.Now()
	p.mu.Lock()
	p.inflight = append(p.inflight, b)
	p.mu.Unlock()
	p.inflightMsgs.Add(float64(b.n))
	for _, m := range msgs {
		if err := p.nc.PublishMsg(m); err != nil {
			return p.fail(fmt.Errorf("publish to stream %s: %w", p.stream, err))
		}
	}
	return nil
}

// flush commits the open batch.
func (p *publisher) flush() error {
	if err := p.error(); err != nil {
		return err
	}
	return p.commit()
}

// acquire takes a window slot, waiting for an ack if all are taken.
func (p *publisher) acquire(ctx context.Context) error {
	select {
	case p.window <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(p.ackTimeout)
	defer timer.Stop()
	select {
	case p.window <- struct{}{}:
		return nil
	case <-p.failed:
		return p.error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return p.fail(fmt.Errorf("publish to stream %s: no acknowledgement within %v", p.stream, p.ackTimeout))
	}
}

// pubAck is the server's answer to a batch commit or a single publish.
type pubAck struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
	Error     *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// ack handles a server answer for batch no: the one to its commit, or one
// of its singles'. It runs on the NATS subscription goroutine, one answer
// at a time, in the order the server stored the messages. The batch leaves
// the in-flight list with its last answer, only after its transactions
// are marked durable, so that Drain, which waits for the list to empty,
// sees them durable.
func (p *publisher) ack(no uint64, data []byte) {
	p.mu.Lock()
	failed := p.err != nil
	var b *batch
	if len(p.inflight) > 0 {
		b = p.inflight[0]
	}
	p.mu.Unlock()
	switch {
	case failed:
		return
	case b == nil || b.no != no:
		p.fail(fmt.Errorf("publish to stream %s: acknowledgement for batch %d out of order", p.stream, no))
		return
	}

	var a pubAck
	if err := json.Unmarshal(data, &a); err != nil {
		p.fail(fmt.Errorf("publish to stream %s: read acknowledgement: %w", p.stream, err))
		return
	}
	if a.Error != nil {
		p.fail(fmt.Errorf("publish to stream %s: %s (error %d)", p.stream, a.Error.Description, a.Error.ErrCode))
		return
	}
	// Singles are answered in order: this answer is message b.n-b.acks+1's.
	if want := b.first + uint64(b.n-b.acks+1); a.Seq != want || a.Duplicate {
		p.fail(fmt.Errorf("publish to stream %s: stored at sequence %d, want %d: another writer is publishing to the stream", p.stream, a.Seq, want))
		return
	}
	if b.acks--; b.acks > 0 {
		return
	}
	for _, id := range b.txns {
		p.tracker.Done(id)
	}
	p.latency.Observe(time.Since(b.sentAt).Seconds())
	p.inflightMsgs.Sub(float64(b.n))
	p.mu.Lock()
	p.inflight[0] = nil
	p.inflight = p.inflight[1:]
	p.mu.Unlock()
	<-p.window
	p.wake()
}

// fail records the publisher's first error, wakes a waiting Drain, and
// returns err.
func (p *publisher) fail(err error) error {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
		close(p.failed)
	}
	p.mu.Unlock()
	p.wake()
	return err
}

func (p *publisher) error() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// unacked returns the number of batches sent and not acknowledged, and how
// long the oldest has waited.
func (p *publisher) unacked(now time.Time) (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.inflight) == 0 {
		return 0, 0
	}
	return len(p.inflight), now.Sub(p.inflight[0].sentAt)
}
