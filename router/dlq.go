package router

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DLQStream holds the rows apply workers parked, for every scope, on
// subjects syncd.<scope>._dlq.
const DLQStream = "SYNCD_DLQ"

// Parked is a row an apply worker could not apply and set aside.
type Parked struct {
	Scope     string          `json:"scope"`
	Target    string          `json:"target"`
	Reason    string          `json:"reason"`
	StreamSeq uint64          `json:"stream_seq"`    // the row's message in the scope stream
	Row       int             `json:"row,omitempty"` // the row's place in a message of several, from 1
	Message   json.RawMessage `json:"message"`       // the row's envelope
	ParkedAt  time.Time       `json:"parked_at"`
}

// dlqWindow is the DLQ's duplicate window: long enough that a row parked
// again after a quick restart is stored once, within the stream's max age.
func dlqWindow(maxAge time.Duration) time.Duration {
	if maxAge > 0 && maxAge < 10*time.Minute {
		return maxAge
	}
	return 10 * time.Minute
}

// Park publishes a parked row to syncd.<scope>._dlq and waits until
// JetStream stored it. It reports whether this call stored it: false for
// a replay of a row parked before.
//
// The message id names the row: target, scope, stream sequence and place
// in the message (p.Row, 0 for a message of one row). A worker that
// restarts from its checkpoint parks the rows after it again; within the
// DLQ's duplicate window (ten minutes at most) JetStream stores such a
// replay once and answers with a duplicate ack. Park accepts that ack only
// when the stored message is the same row (scope, target, stream sequence,
// row and envelope; the reason and time may differ): anything else would
// be a second row dropped under the first one's id (say, the scope's
// stream was deleted and its sequences used again), and Park returns an
// error instead; a retry succeeds once the window has passed. Park
// compares the stored message rather than let the caller say whether a
// park may be a replay, because only JetStream knows what an earlier
// process parked before it stopped.
func (c *Conn) Park(ctx context.Context, p Parked, streams StreamOptions) (stored bool, err error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return false, fmt.Errorf("open jetstream: %w", err)
	}
	if err := c.ensureDLQ(ctx, js, streams); err != nil {
		return false, err
	}
	id := "dlq:" + p.Target + ":" + p.Scope + ":" + strconv.FormatUint(p.StreamSeq, 10) + ":" + strconv.Itoa(p.Row)
	msg := &nats.Msg{
		Subject: ReservedSubject(p.Scope, TokenDLQ),
		Data:    mustJSON(p),
		Header: nats.Header{
			HeaderMsgID: {id},
			HeaderType:  contentTypeJSON,
		},
	}
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return false, fmt.Errorf("park row %d of message %d of scope %s: %w", p.Row, p.StreamSeq, p.Scope, err)
	}
	if !ack.Duplicate {
		return true, nil
	}
	dlq, err := js.Stream(ctx, DLQStream)
	if err != nil {
		return false, fmt.Errorf("open stream %s: %w", DLQStream, err)
	}
	prev, err := dlq.GetMsg(ctx, ack.Sequence)
	if err != nil {
		return false, fmt.Errorf("read the row parked before as %s: %w", id, err)
	}
	var before Parked
	if err := json.Unmarshal(prev.Data, &before); err != nil || !bytes.Equal(p.identity(), before.identity()) {
		return false, fmt.Errorf("park row %d of message %d of scope %s: DLQ message %d has its id %s but holds another row", p.Row, p.StreamSeq, p.Scope, ack.Sequence, id)
	}
	return false, nil
}

// identity is p without what may differ when the same row is parked
// again: the reason and the time.
func (p Parked) identity() []byte {
	p.Reason, p.ParkedAt = "", time.Time{}
	return mustJSON(p)
}

func (c *Conn) ensureDLQ(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	return c.ensureReserved(ctx, js, o, &c.dlqReady, DLQStream, TokenDLQ, "rows syncd apply workers could not apply")
}

// ensureReserved creates the stream name of the reserved subjects
// syncd.*.<token> of every scope, once per connection (*ready).
func (c *Conn) ensureReserved(ctx context.Context, js jetstream.JetStream, o StreamOptions, ready *bool, name, token, about string) error {
	c.dlqMu.Lock()
	defer c.dlqMu.Unlock()
	if *ready {
		return nil
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: about,
		Subjects:    []string{SubjectPrefix + ".*." + token},
		Storage:     jetstream.FileStorage,
		Replicas:    max(o.Replicas, 1),
		MaxAge:      o.MaxAge,
		Duplicates:  dlqWindow(o.MaxAge),
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	*ready = true
	return nil
}
