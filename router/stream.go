package router

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// Message headers (DESIGN.md §4) and the JetStream headers syncd sets.
const (
	HeaderMsgID     = "Nats-Msg-Id"
	HeaderOp        = "Syncd-Op"
	HeaderTxn       = "Syncd-Txn"
	HeaderPos       = "Syncd-Pos"
	HeaderRows      = "Syncd-Rows"     // rows in a message of a scope with rows_per_message > 1
	HeaderTarget    = "Syncd-Target"   // the one target a resync's rows are for
	HeaderOrigin    = "Syncd-Origin"   // the transaction's origin (capture.Txn.Origin), if any
	HeaderPrevSeq   = "Syncd-Prev-Seq" // the stream sequence of the scope's previous message (docs/wire-format.md)
	HeaderType      = "Content-Type"
	ContentTypeJSON = "application/json"

	hdrBatchID      = "Nats-Batch-Id"
	hdrBatchSeq     = "Nats-Batch-Sequence"
	hdrBatchCommit  = "Nats-Batch-Commit"
	hdrExpectedLast = "Nats-Expected-Last-Sequence"
	hdrExpectedID   = "Nats-Expected-Last-Msg-Id"
)

// StreamOptions are the retention settings of the per-scope streams.
type StreamOptions struct {
	Replicas        int
	MaxAge          time.Duration
	MaxBytes        int64
	DuplicateWindow time.Duration
}

// StreamOptionsFrom takes the stream settings of a config's nats block.
func StreamOptionsFrom(n scopes.NATS) StreamOptions {
	return StreamOptions{Replicas: n.StreamReplicas, MaxAge: n.StreamMaxAge, MaxBytes: n.StreamMaxBytes, DuplicateWindow: n.DuplicateWindow}
}

// atomicBatchVersion is the first nats-server release with atomic batch
// publishing (ADR-50).
var atomicBatchVersion = [3]int{2, 12, 0}

// SupportsAtomicBatch reports whether the connected server can take
// atomic batches.
func SupportsAtomicBatch(nc *nats.Conn) bool {
	v := nc.ConnectedServerVersion()
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 3 {
		return false
	}
	for i := range 3 {
		n, err := strconv.Atoi(strings.FieldsFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' })[0])
		if err != nil {
			return false
		}
		if n != atomicBatchVersion[i] {
			return n > atomicBatchVersion[i]
		}
	}
	return true
}

// streamSubjects are a scope's subjects in its stream: row changes and
// batch commit markers. Parked rows (_dlq) go to the DLQ stream instead, so
// that nothing but the capture writes to a scope stream and its sequence
// stays what the capture expects.
func streamSubjects(scope string) []string {
	return []string{RowSubjects(scope), scopeMarker(scope)}
}

// ensureStream creates the stream of g or updates its settings and
// subjects. It reports whether the stream accepts atomic batches: asked
// for, and kept by the server.
func ensureStream(ctx context.Context, js jetstream.JetStream, g *streamGroup, o StreamOptions, atomic bool) (jetstream.Stream, bool, error) {
	cfg := jetstream.StreamConfig{
		Name:               g.name,
		Description:        g.desc,
		Subjects:           g.subjects,
		Storage:            jetstream.FileStorage,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardOld,
		Replicas:           max(o.Replicas, 1),
		MaxAge:             o.MaxAge,
		MaxBytes:           o.MaxBytes,
		Duplicates:         o.DuplicateWindow,
		AllowAtomicPublish: atomic,
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = -1
	}
	s, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, false, fmt.Errorf("create stream %s: %w", cfg.Name, err)
	}
	return s, atomic && s.CachedInfo().Config.AllowAtomicPublish, nil
}

// resumePoint is the last message of one source a stream holds: changes at
// or below it were published before a restart and are skipped.
type resumePoint struct {
	pos       capture.Position
	seq       int
	ok        bool
	streamSeq uint64 // the message's stream sequence
}

// covers reports whether the seq'th message of the transaction at pos is
// already in the stream.
func (r resumePoint) covers(pos capture.Position, seq int) bool {
	return r.ok && (pos < r.pos || pos == r.pos && seq <= r.seq)
}

// lastStored finds the last message of scope from source in stream s,
// which may hold other scopes' too, and reads its position from the Nats-Msg-Id header (<scope>:<source>:<pos>:<seq>, the
// txn.seq of the message's last row).
func lastStored(ctx context.Context, s jetstream.Stream, scope, source string) (resumePoint, error) {
	if s.CachedInfo().State.Msgs == 0 {
		return resumePoint{}, nil
	}
	m, err := s.GetLastMsgForSubject(ctx, SourceSubjects(scope, source))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return resumePoint{}, nil
	}
	if err != nil {
		return resumePoint{}, fmt.Errorf("read last message of scope %s in stream %s: %w", scope, s.CachedInfo().Config.Name, err)
	}
	id := m.Header.Get(HeaderMsgID)
	pos, seq, err := parseMsgID(id, scope, source)
	if err != nil {
		return resumePoint{}, fmt.Errorf("read last message of scope %s in stream %s: %w", scope, s.CachedInfo().Config.Name, err)
	}
	return resumePoint{pos: pos, seq: seq, ok: true, streamSeq: m.Sequence}, nil
}

func appendMsgID(b []byte, scope, source string, pos capture.Position, seq int) []byte {
	b = append(b, scope...)
	b = append(b, ':')
	b = append(b, source...)
	b = append(b, ':')
	b = pos.AppendText(b)
	b = append(b, ':')
	return strconv.AppendInt(b, int64(seq), 10)
}

func parseMsgID(id, scope, source string) (capture.Position, int, error) {
	parts := strings.Split(id, ":")
	if len(parts) != 4 || parts[0] != scope || parts[1] != source {
		return 0, 0, fmt.Errorf("parse message id %q: want %s:%s:<pos>:<seq>", id, scope, source)
	}
	pos, err := capture.ParsePosition(parts[2])
	if err != nil {
		return 0, 0, fmt.Errorf("parse message id %q: %w", id, err)
	}
	seq, err := strconv.Atoi(parts[3])
	if err != nil {
		return 0, 0, fmt.Errorf("parse message id %q: %w", id, err)
	}
	return pos, seq, nil
}
