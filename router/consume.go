package router

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
)

// Subscription reads one source's messages of a scope stream, in order,
// for an apply worker. It uses an ordered consumer: no acknowledgements
// and no redeliveries, which would reorder the stream while a large
// source transaction is being applied. The target's checkpoint, written
// with the rows, is the only record of progress.
//
// A goroutine reads and decodes up to prefetch messages ahead, so that
// decoding runs while the worker waits for its target.
type Subscription struct {
	it     jetstream.MessagesContext
	stream string
	out    chan read     // decoded messages, then one error
	stop   chan struct{} // closed by Stop
	done   chan struct{} // closed when the goroutine has returned
	err    error         // the error that ended reading, once Next returned it
	timer  *time.Timer   // Next's wait, made by its first wait
	// check is the resume whose gap the first message decides, when the
	// scope had no message left to decide it at Subscribe (firstAfter).
	check *Resume
}

// read is a message decoded ahead, or the error that ended reading.
type read struct {
	d   *Delivery
	err error
}

// prefetch is how many decoded messages wait for Next.
const prefetch = 32

// Delivery is one message read from a scope stream.
type Delivery struct {
	StreamSeq uint64
	// Pending is how many messages of the stream after this one the
	// subscription has yet to deliver.
	Pending uint64
	Data    []byte
	// Rows are the message's row changes, in order: one, or more from a
	// scope with rows_per_message above 1. They belong to one source
	// transaction.
	Rows []*RawEnvelope
}

// ErrNoMessage is returned by Next when no message arrived in time.
var ErrNoMessage = errors.New("no message")

// ErrCheckpointGone means the stream no longer holds the messages after a
// target's checkpoint: retention removed them before they were applied.
var ErrCheckpointGone = errors.New("the stream no longer holds the messages after the checkpoint")

// Resume is where a subscription starts: after the source transaction at
// Pos, whose last message the target recorded as stream sequence
// StreamSeq.
type Resume struct {
	Pos       capture.Position
	StreamSeq uint64
}

// Subscribe starts reading a scope's messages from source after from, or
// from the first message if from is nil, from the stream that holds them
// (Conn.ScopeStream), filtered by subject: on a stream the spokes of a
// template share, it reads the scope's messages only, in stream order. It finds the first message to
// read by position, not by stream sequence, so it is exact even if the
// stream was renumbered (a server that lost unsynced messages). It fails
// with ErrCheckpointGone if retention removed messages of the scope after
// from; if the scope has no message left to tell, its first message
// delivered does: Next then returns the error.
func (c *Conn) Subscribe(ctx context.Context, scope, source string, from *Resume) (*Subscription, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	stream, err := openScopeStream(ctx, js, scope)
	if err != nil {
		return nil, err
	}
	name := stream.CachedInfo().Config.Name
	start := uint64(1)
	var check *Resume
	if from != nil {
		var undecided bool
		if start, undecided, err = firstAfter(ctx, stream, SourceSubjects(scope, source), *from); err != nil {
			return nil, err
		}
		if undecided {
			check = from
		}
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{SourceSubjects(scope, source)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    start,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer on %s: %w", name, err)
	}
	// At most 2,000 messages and 16 MiB (or two of the largest messages
	// the server takes) wait in the client: with rows_per_message a
	// message can hold a thousand rows.
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(2000, int(max(16<<20, 2*c.nc.MaxPayload()))))
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", name, err)
	}
	s := &Subscription{it: it, stream: name, out: make(chan read, prefetch), stop: make(chan struct{}), done: make(chan struct{}), check: check}
	go s.read()
	return s, nil
}

// firstAfter returns the sequence of the first message on subjects (a
// scope's from one source) whose source position is after from.Pos, by
// binary search over those messages only: they are in source position
// order. It returns the stream's next sequence if there is none.
//
// It fails with ErrCheckpointGone if retention removed messages on
// subjects after from.StreamSeq, which it decides by the scope's own
// messages, not the stream's (gone): in a stream the spokes of a template
// share, the others' messages count for nothing. If the scope has no
// message left to decide by, undecided is true and the first message
// delivered decides (Subscription.next).
func firstAfter(ctx context.Context, s jetstream.Stream, subjects string, from Resume) (start uint64, undecided bool, err error) {
	pos := from.Pos
	info, err := s.Info(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("read stream %s: %w", s.CachedInfo().Config.Name, err)
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq+1 // answer in [lo, hi]
	if from.StreamSeq+1 < info.State.FirstSeq {
		// Retention removed messages after the last one the target
		// applied: were any of them the scope's?
		first, err := s.GetMsg(ctx, info.State.FirstSeq, jetstream.WithGetMsgSubject(subjects))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			undecided = true
		case err != nil:
			return 0, false, fmt.Errorf("read the first message of %s in %s: %w", subjects, info.Config.Name, err)
		default:
			if err := gone(first.Header, first.Sequence, from, info.State.FirstSeq); err != nil {
				return 0, false, fmt.Errorf("subscribe to %s after %s: %w", info.Config.Name, pos, err)
			}
		}
	}
	if info.State.Msgs == 0 {
		return hi, undecided, nil
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		p, seq, err := positionAt(ctx, s, subjects, mid, hi)
		if err != nil {
			return 0, false, err
		}
		if seq == hi || p > pos {
			hi = mid
		} else {
			lo = seq + 1
		}
	}
	return lo, undecided, nil
}

// gone returns an error wrapping ErrCheckpointGone if retention removed
// messages of a scope after from.StreamSeq, judged by the scope's first
// message still in the stream, message seq with header h: the scope's
// messages before it, up to its HeaderPrevSeq, are removed. A message
// without the header, from a router before it, falls back on the whole
// stream: gone if the stream, which now starts at first, removed any
// message after from.StreamSeq.
func gone(h nats.Header, seq uint64, from Resume, first uint64) error {
	if v := h.Get(HeaderPrevSeq); v != "" {
		prev, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("read message %d: parse %s %q: %w", seq, HeaderPrevSeq, v, err)
		}
		if prev > from.StreamSeq {
			return fmt.Errorf("the scope's message %d, after message %d, is gone: %w", prev, from.StreamSeq, ErrCheckpointGone)
		}
		return nil
	}
	if from.StreamSeq+1 < first {
		return fmt.Errorf("message %d: the stream starts at %d: %w", from.StreamSeq, first, ErrCheckpointGone)
	}
	return nil
}

// positionAt reads the position of the first message on subjects at or
// after seq and before end, returning end if there is none (deleted
// messages leave holes, and other scopes' messages fill a shared stream).
func positionAt(ctx context.Context, s jetstream.Stream, subjects string, seq, end uint64) (capture.Position, uint64, error) {
	m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subjects))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, end, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read message %d: %w", seq, err)
	}
	if m.Sequence >= end {
		return 0, end, nil
	}
	rows, err := DecodeRows(m.Data)
	if err != nil {
		return 0, 0, fmt.Errorf("read message %d: %w", m.Sequence, err)
	}
	return rows[0].Source.Pos, m.Sequence, nil
}

// read reads and decodes messages into s.out until an error, which it
// sends too, or Stop.
func (s *Subscription) read() {
	defer close(s.done)
	for {
		d, err := s.next()
		select {
		case s.out <- read{d, err}:
		case <-s.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// next reads and decodes the next message.
func (s *Subscription) next() (*Delivery, error) {
	m, err := s.it.Next()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.stream, err)
	}
	meta, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.stream, err)
	}
	if s.check != nil {
		// The scope had no message left at Subscribe: its first one
		// tells whether retention removed some after the checkpoint.
		// Without the header, the stream started after it then.
		from := *s.check
		s.check = nil
		if err := gone(m.Headers(), meta.Sequence.Stream, from, math.MaxUint64); err != nil {
			return nil, fmt.Errorf("read %s after message %d: %w", s.stream, from.StreamSeq, err)
		}
	}
	rows, err := DecodeRows(m.Data())
	if err != nil {
		return nil, fmt.Errorf("read %s message %d: %w", s.stream, meta.Sequence.Stream, err)
	}
	return &Delivery{StreamSeq: meta.Sequence.Stream, Pending: meta.NumPending, Data: m.Data(), Rows: rows}, nil
}

// Next returns the next message, waiting up to wait (forever if zero or
// less) and returning ErrNoMessage if none came. It returns ctx's error
// when ctx is done. After an error other than ErrNoMessage, the
// subscription is done: Next returns that error again.
func (s *Subscription) Next(ctx context.Context, wait time.Duration) (*Delivery, error) {
	return s.NextUntil(ctx, wait, nil)
}

// NextUntil is Next that also stops waiting, with ErrNoMessage, when
// stop is closed (never if it is nil).
func (s *Subscription) NextUntil(ctx context.Context, wait time.Duration, stop <-chan struct{}) (*Delivery, error) {
	if s.err != nil {
		return nil, s.err
	}
	var timeout <-chan time.Time
	if wait > 0 {
		if s.timer == nil {
			s.timer = time.NewTimer(wait)
		} else {
			s.timer.Reset(wait)
		}
		defer s.timer.Stop()
		timeout = s.timer.C
	}
	select {
	case r := <-s.out:
		s.err = r.err
		return r.d, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timeout:
		return nil, ErrNoMessage
	case <-stop:
		return nil, ErrNoMessage
	}
}

// Stop ends the subscription and waits for its goroutine.
func (s *Subscription) Stop() {
	close(s.stop)
	s.it.Stop()
	<-s.done
}
