package router

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd-dev/syncd/checkpoint"
)

// writer writes the messages of the scopes whose stream it is to that
// stream, in the order their publishers send them: one scope's stream, or
// the stream the spokes of one template share (StreamFor).
//
// With atomic batches (nats-server 2.12+), messages are staged without a
// reply and each batch ends with an "eob" commit that the server answers
// once the whole batch is stored (and, with sync_always, fsynced). Every
// batch's first message carries Nats-Expected-Last-Sequence, so if one
// batch fails, every later one fails too: the stream never has a gap,
// however many batches are in flight. A batch holds messages of every
// scope of the stream, so a source transaction touching a thousand spokes
// of one template is one batch, not a thousand.
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
// source transaction, and the next router resumes there (each scope after
// its own last message, lastStored).
//
// Without atomic batches every message is its own batch of one, published
// with a reply and the same check.
//
// The router goroutine calls send, endTxn and flush; acks arrive on the
// NATS subscription's goroutine. After the first error the writer, and
// every publisher on it, is failed for good; the router is then rebuilt
// from what the stream holds.
type writer struct {
	stream        string
	nc            *nats.Conn
	atomic        bool
	maxBatch      int
	singles       int // a batch of up to this many messages goes as singles: maxSingles
	ackTimeout    time.Duration
	tracker       *checkpoint.Tracker
	window        chan struct{} // one token per unacknowledged batch
	replyPrefix   string        // <inbox>.<writer index>.
	commitSubject string        // a subject of the stream that stores nothing: an eob's
	wake          func()
	latency       prometheus.Observer
	inflightMsgs  prometheus.Gauge

	// Owned by the router goroutine.
	cur      *batch
	nextNo   uint64
	expected uint64 // the stream's last sequence once every batch sent is stored
	lastID   string // Nats-Msg-Id of the last message sent; empty before the first
	txnMark  uint64 // the router's transaction count when Commit last listed this writer

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
	held   []*nats.Msg  // its messages while it may still go as singles
	acks   int          // answers it awaits: set before dispatch, then counted down by ack
	txns   []uint64     // tracker ids of transactions whose last message is here
	pubs   []*publisher // the publishers with a message here, each once
	sentAt time.Time
}

// endTxn ends the open batch after a source transaction's last messages if
// it is at least half full, so that batches tend to end on transaction
// boundaries, or if no batch is in flight. The latter is group commit: a
// transaction reaches the server at once when the server is idle, and
// while it stores a batch the next one gathers the transactions that
// arrive meanwhile, so batches grow with the load and latency stays near
// one store time.
func (w *writer) endTxn() error {
	if c := w.cur; c != nil && (c.n >= w.maxBatch/2 || c.bytes >= maxBatchBytes/2 || w.idle()) {
		return w.commit()
	}
	return nil
}

// idle reports whether no batch is in flight.
func (w *writer) idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.inflight) == 0
}

// send adds msg, of publisher p, to the open batch, opening one if needed:
// it holds msg while the batch may still go as singles, and stages it in
// the batch's atomic batch otherwise. A non-zero id is a transaction whose
// last message (of p's scope) msg is.
func (w *writer) send(ctx context.Context, p *publisher, msg *nats.Msg, id uint64) error {
	if err := w.error(); err != nil {
		return err
	}
	if w.cur != nil && (w.cur.n >= w.maxBatch || w.cur.bytes >= maxBatchBytes) {
		if err := w.commit(); err != nil {
			return err
		}
	}
	if w.cur == nil {
		if err := w.acquire(ctx); err != nil {
			return err
		}
		w.nextNo++
		w.cur = &batch{no: w.nextNo, first: w.expected, reply: w.replyPrefix + strconv.FormatUint(w.nextNo, 10)}
	}
	b := w.cur
	if id != 0 {
		b.txns = append(b.txns, id)
	}
	b.n++
	b.bytes += len(msg.Data)
	if p.batchNo != b.no {
		p.batchNo = b.no
		b.pubs = append(b.pubs, p)
	}
	// The message will be stored at this sequence, or not at all, and so
	// will every message before it: each batch asserts the stream's last
	// sequence. So its predecessor of the scope is where p's last went.
	msg.Header[HeaderPrevSeq] = []string{strconv.FormatUint(p.lastSeq, 10)}
	p.lastSeq = b.first + uint64(b.n)
	if b.id != "" {
		return w.stage(b, msg, b.n)
	}
	b.held = append(b.held, msg)
	switch {
	case !w.atomic:
		return w.sendSingles(b) // a batch of one
	case b.n <= w.singles && b.bytes <= maxSinglesBytes:
		return nil
	}
	// Too many for singles: stage them all as an atomic batch.
	b.id = nuid.Next()
	for i, m := range b.held {
		if err := w.stage(b, m, i+1); err != nil {
			return err
		}
	}
	b.held = nil
	return nil
}

// stage publishes msg as message seq of b's atomic batch.
func (w *writer) stage(b *batch, msg *nats.Msg, seq int) error {
	if seq == 1 {
		msg.Header[hdrExpectedLast] = []string{strconv.FormatUint(b.first, 10)}
	}
	w.lastID = msg.Header[HeaderMsgID][0]
	msg.Header[hdrBatchID] = []string{b.id}
	msg.Header[hdrBatchSeq] = []string{strconv.Itoa(seq)}
	if err := w.nc.PublishMsg(msg); err != nil {
		return w.fail(fmt.Errorf("publish to stream %s: %w", w.stream, err))
	}
	return nil
}

// commit sends the open batch: its held messages as singles, or the
// end-of-batch marker of its atomic batch, which is not stored; the server
// answers it once the batch is stored.
func (w *writer) commit() error {
	b := w.cur
	if b == nil || b.n == 0 {
		return nil
	}
	if b.id == "" {
		return w.sendSingles(b)
	}
	eob := &nats.Msg{
		Subject: w.commitSubject,
		Reply:   b.reply,
		Header: nats.Header{
			hdrBatchID:     {b.id},
			hdrBatchSeq:    {strconv.Itoa(b.n + 1)},
			hdrBatchCommit: {"eob"},
		},
	}
	b.acks = 1
	return w.dispatch(b, eob)
}

// sendSingles sends b's held messages one by one, each with a reply and
// the stream's last sequence and message id before it.
func (w *writer) sendSingles(b *batch) error {
	for i, m := range b.held {
		m.Header[hdrExpectedLast] = []string{strconv.FormatUint(b.first+uint64(i), 10)}
		if w.lastID != "" {
			m.Header[hdrExpectedID] = []string{w.lastID}
		}
		w.lastID = m.Header[HeaderMsgID][0]
		m.Reply = b.reply
	}
	b.acks = len(b.held)
	held := b.held
	b.held = nil
	return w.dispatch(b, held...)
}

// dispatch registers b as in flight and publishes its final messages.
func (w *writer) dispatch(b *batch, msgs ...*nats.Msg) error {
	w.cur = nil
	w.expected += uint64(b.n)
	for _, p := range b.pubs {
		p.sent.Store(p.lastSeq)
	}
	b.sentAt = time.Now()
	w.mu.Lock()
	w.inflight = append(w.inflight, b)
	w.mu.Unlock()
	w.inflightMsgs.Add(float64(b.n))
	for _, m := range msgs {
		if err := w.nc.PublishMsg(m); err != nil {
			return w.fail(fmt.Errorf("publish to stream %s: %w", w.stream, err))
		}
	}
	return nil
}

// flush commits the open batch.
func (w *writer) flush() error {
	if err := w.error(); err != nil {
		return err
	}
	return w.commit()
}

// acquire takes a window slot, waiting for an ack if all are taken.
func (w *writer) acquire(ctx context.Context) error {
	select {
	case w.window <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(w.ackTimeout)
	defer timer.Stop()
	select {
	case w.window <- struct{}{}:
		return nil
	case <-w.failed:
		return w.error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return w.fail(fmt.Errorf("publish to stream %s: no acknowledgement within %v", w.stream, w.ackTimeout))
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
func (w *writer) ack(no uint64, data []byte) {
	w.mu.Lock()
	failed := w.err != nil
	var b *batch
	if len(w.inflight) > 0 {
		b = w.inflight[0]
	}
	w.mu.Unlock()
	switch {
	case failed:
		return
	case b == nil || b.no != no:
		w.fail(fmt.Errorf("publish to stream %s: acknowledgement for batch %d out of order", w.stream, no))
		return
	}

	var a pubAck
	if err := json.Unmarshal(data, &a); err != nil {
		w.fail(fmt.Errorf("publish to stream %s: read acknowledgement: %w", w.stream, err))
		return
	}
	if a.Error != nil {
		w.fail(fmt.Errorf("publish to stream %s: %s (error %d)", w.stream, a.Error.Description, a.Error.ErrCode))
		return
	}
	// Singles are answered in order: this answer is message b.n-b.acks+1's.
	if want := b.first + uint64(b.n-b.acks+1); a.Seq != want || a.Duplicate {
		w.fail(fmt.Errorf("publish to stream %s: stored at sequence %d, want %d: another writer is publishing to the stream", w.stream, a.Seq, want))
		return
	}
	if b.acks--; b.acks > 0 {
		return
	}
	for _, id := range b.txns {
		w.tracker.Done(id)
	}
	w.latency.Observe(time.Since(b.sentAt).Seconds())
	w.inflightMsgs.Sub(float64(b.n))
	w.mu.Lock()
	w.inflight[0] = nil
	w.inflight = w.inflight[1:]
	w.mu.Unlock()
	<-w.window
	w.wake()
}

// fail records the writer's first error, wakes a waiting Drain, and
// returns err.
func (w *writer) fail(err error) error {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
		close(w.failed)
	}
	w.mu.Unlock()
	w.wake()
	return err
}

func (w *writer) error() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// unacked returns the number of batches sent and not acknowledged, and how
// long the oldest has waited.
func (w *writer) unacked(now time.Time) (int, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.inflight) == 0 {
		return 0, 0
	}
	return len(w.inflight), now.Sub(w.inflight[0].sentAt)
}
