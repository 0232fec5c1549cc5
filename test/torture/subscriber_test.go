package torture

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

// subscriber is a downstream JetStream consumer, as a user of syncd would
// write one: a durable pull consumer per scope stream, acking each message,
// reconnecting across NATS restarts. It checks what it receives as it goes
// (scopeLog.receive) and replays every change into a model of the scope's
// tables, compared with the source at the end.
type subscriber struct {
	scopes map[string]*scopeLog
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const durableName = "torture"

func startSubscriber(t seeded, url string, scopes []string) *subscriber {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.Timeout(2*time.Second),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatalf("subscriber: connect to nats: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{scopes: map[string]*scopeLog{}, cancel: cancel}
	for _, name := range scopes {
		l := newScopeLog(name)
		s.scopes[name] = l
		s.wg.Add(1)
		go func() { defer s.wg.Done(); l.consume(ctx, nc) }()
	}
	t.Cleanup(func() { s.stop(); nc.Close() })
	return s
}

func (s *subscriber) stop() {
	s.cancel()
	s.wg.Wait()
}

// scopeLog is what the subscriber received from one scope's stream.
type scopeLog struct {
	scope string

	// nextOf, once the stream is known, returns the sequence of the
	// scope's first message at or after seq: in a stream the spokes of a
	// template share, the scope's sequences have gaps.
	nextOf func(seq uint64) (uint64, bool)

	mu           sync.Mutex
	next         uint64              // the next stream sequence to process
	pending      map[uint64]received // received ahead of next
	recent       [1 << 16]digest     // digests of processed messages, by sequence
	deliveries   int
	redeliveries int
	problems     []string
	nProblems    int
	consumerErrs int

	// The last processed change, for the order and transaction checks.
	started  bool
	lastPos  capture.Position
	lastSeq  int
	lastDone bool
	txns     int
	model    *model

	// A snapshot transaction is applied to the model at its last message:
	// one cut by a restart of syncd is abandoned (see process).
	copy      []heldChange // the unfinished snapshot transaction's changes so far
	abandoned int          // row changes of abandoned snapshot transactions
	rows      int          // row changes processed (a packed message holds several)
}

type heldChange struct {
	seq uint64
	env *router.Envelope
}

type received struct {
	id      string
	subject string
	data    []byte
}

type digest struct {
	seq uint64
	sum [32]byte
}

func (r received) digest(seq uint64) digest {
	h := sha256.New()
	h.Write([]byte(r.id))
	h.Write([]byte{0})
	h.Write([]byte(r.subject))
	h.Write([]byte{0})
	h.Write(r.data)
	d := digest{seq: seq}
	h.Sum(d.sum[:0])
	return d
}

func newScopeLog(scope string) *scopeLog {
	return &scopeLog{scope: scope, next: 1, pending: map[uint64]received{}, model: newModel()}
}

// consume pulls from the scope's stream until ctx is done, re-creating its
// consumer after any error (the stream not created yet, NATS restarting).
func (l *scopeLog) consume(ctx context.Context, nc *nats.Conn) {
	js, err := jetstream.New(nc)
	if err != nil {
		l.problem("create jetstream context: %v", err)
		return
	}
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var cons jetstream.Consumer
		name, err := js.StreamNameBySubject(cctx, router.ReservedSubject(l.scope, router.TokenBatch))
		var stream jetstream.Stream
		if err == nil {
			stream, err = js.Stream(cctx, name)
		}
		if err == nil {
			l.mu.Lock()
			l.nextOf = func(seq uint64) (uint64, bool) {
				gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				m, err := stream.GetMsg(gctx, seq, jetstream.WithGetMsgSubject(router.RowSubjects(l.scope)))
				if err != nil {
					return 0, false
				}
				return m.Sequence, true
			}
			l.mu.Unlock()
			cons, err = stream.CreateOrUpdateConsumer(cctx, jetstream.ConsumerConfig{
				Durable:       durableName + "_" + l.scope,
				FilterSubject: router.RowSubjects(l.scope),
				AckPolicy:     jetstream.AckExplicitPolicy,
				AckWait:       5 * time.Second,
				MaxAckPending: 20_000,
			})
		}
		cancel()
		if err != nil {
			l.mu.Lock()
			l.consumerErrs++
			l.mu.Unlock()
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		for ctx.Err() == nil {
			batch, err := cons.Fetch(2000, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				break
			}
			for m := range batch.Messages() {
				meta, err := m.Metadata()
				if err != nil {
					l.problem("message on %s without metadata: %v", m.Subject(), err)
					continue
				}
				l.receive(meta.Sequence.Stream, received{id: m.Headers().Get(router.HeaderMsgID), subject: m.Subject(), data: m.Data()})
				m.Ack()
			}
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
				break
			}
		}
	}
}

func (l *scopeLog) problem(format string, args ...any) {
	l.nProblems++
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

// receive takes one delivery of stream message seq. A message delivered
// again must be the very same message; others are processed in stream
// order, whatever order they arrive in.
func (l *scopeLog) receive(seq uint64, r received) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deliveries++
	l.skipGap(seq)
	switch {
	case seq < l.next:
		l.redeliveries++
		if d := l.recent[seq%uint64(len(l.recent))]; d.seq == seq && d != r.digest(seq) {
			l.problem("stream message %d delivered again with a different id, subject or body (id now %s)", seq, r.id)
		}
	case seq > l.next:
		if p, ok := l.pending[seq]; ok {
			l.redeliveries++
			if p.digest(seq) != r.digest(seq) {
				l.problem("stream message %d delivered again with a different id, subject or body (id now %s)", seq, r.id)
			}
			return
		}
		l.pending[seq] = r
	default:
		l.process(seq, r)
		for len(l.pending) > 0 {
			l.skipGap(math.MaxUint64)
			p, ok := l.pending[l.next]
			if !ok {
				break
			}
			delete(l.pending, l.next)
			l.process(l.next, p)
		}
	}
}

// skipGap moves next past the stream messages that are not the scope's,
// if seq, a message of the scope after next, may follow such a gap.
func (l *scopeLog) skipGap(seq uint64) {
	if seq <= l.next || l.nextOf == nil {
		return
	}
	if n, ok := l.nextOf(l.next); ok && n > l.next && n <= seq {
		l.next = n
	}
}

// process checks stream message seq (one row change, or a snapshot's
// rows packed in an array) against the messages before it and applies it
// to the model:
//
//   - its Nats-Msg-Id is <scope>:app:<source.pos>:<txn.seq> of its (last)
//     row;
//   - a transaction's messages are contiguous, numbered 1..n, and only the
//     n'th is marked last;
//   - transactions follow each other in strictly increasing position, so
//     no change is stored twice;
//   - only a snapshot transaction may end without a last message, cut by
//     a restart of syncd: the next transaction starts instead, and the
//     subscriber discards the cut copy, as docs/wire-format.md says (the
//     table's copy comes again later).
func (l *scopeLog) process(seq uint64, r received) {
	l.next = seq + 1
	l.recent[seq%uint64(len(l.recent))] = r.digest(seq)
	envs, err := router.DecodeAll(r.data) // a snapshot's rows come packed
	if err != nil {
		l.problem("stream message %d (%s): %v", seq, r.id, err)
		return
	}
	last := envs[len(envs)-1] // a packed message's id names its last row
	if want := fmt.Sprintf("%s:app:%s:%d", l.scope, last.Source.Pos, last.Txn.Seq); r.id != want {
		l.problem("stream message %d has Nats-Msg-Id %q, its body says %q", seq, r.id, want)
	}
	for _, env := range envs {
		l.processRow(seq, r.id, env)
	}
}

// processRow checks one row change of stream message seq, as process says.
func (l *scopeLog) processRow(seq uint64, id string, env *router.Envelope) {
	if env.Op != "e" { // the end of a copy changes no row (docs/wire-format.md)
		l.rows++
	}
	switch {
	case env.Txn.Seq == 1:
		switch {
		case l.started && !l.lastDone && len(l.copy) > 0:
			for _, c := range l.copy {
				if c.env.Op != "e" {
					l.abandoned++
				}
			}
			l.copy = l.copy[:0]
		case l.started && !l.lastDone:
			l.problem("stream message %d (%s) starts a transaction, but the one at %s ended at seq %d without last", seq, id, l.lastPos, l.lastSeq)
		}
		if l.started && env.Source.Pos <= l.lastPos {
			l.problem("stream message %d (%s) starts a transaction at %s, not after the previous one at %s", seq, id, env.Source.Pos, l.lastPos)
		}
		l.txns++
	case !l.started || l.lastDone || env.Source.Pos != l.lastPos || env.Txn.Seq != l.lastSeq+1:
		l.problem("stream message %d (%s) follows %s:%d (last=%v): not the next message of a transaction", seq, id, l.lastPos, l.lastSeq, l.lastDone)
	}
	l.started, l.lastPos, l.lastSeq, l.lastDone = true, env.Source.Pos, env.Txn.Seq, env.Txn.Last
	if !env.Source.Snapshot {
		l.modelApply(seq, env)
		return
	}
	l.copy = append(l.copy, heldChange{seq, env})
	if env.Txn.Last {
		for _, c := range l.copy {
			l.modelApply(c.seq, c.env)
		}
		l.copy = l.copy[:0]
	}
}

func (l *scopeLog) modelApply(seq uint64, env *router.Envelope) {
	if err := l.model.apply(seq, env); err != nil {
		l.problem("stream message %d (%s:%d): %v", seq, env.Source.Pos, env.Txn.Seq, err)
	}
}

// status is a consistent view of a scope log.
type logStatus struct {
	processed    uint64 // the last stream sequence processed
	pending      int
	deliveries   int
	redeliveries int
	txns         int
	lastPos      capture.Position
	lastDone     bool
	abandoned    int // row changes of cut snapshot transactions, discarded
	rows         int // row changes processed
	problems     []string
	nProblems    int
}

func (l *scopeLog) status() logStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return logStatus{
		processed: l.next - 1, pending: len(l.pending), deliveries: l.deliveries, redeliveries: l.redeliveries,
		txns: l.txns, lastPos: l.lastPos, lastDone: l.lastDone, abandoned: l.abandoned, rows: l.rows, problems: append([]string(nil), l.problems...), nProblems: l.nProblems,
	}
}
