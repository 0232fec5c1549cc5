package router

import (
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
// JetStream stored it. Parking the same row again within ten minutes
// stores it once.
func (c *Conn) Park(ctx context.Context, p Parked, streams StreamOptions) error {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	if err := c.ensureDLQ(ctx, js, streams); err != nil {
		return err
	}
	msg := &nats.Msg{
		Subject: ReservedSubject(p.Scope, TokenDLQ),
		Data:    mustJSON(p),
		Header: nats.Header{
			HeaderMsgID: {"dlq:" + p.Target + ":" + p.Scope + ":" + strconv.FormatUint(p.StreamSeq, 10)},
			HeaderType:  contentTypeJSON,
		},
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("park row %d of scope %s: %w", p.StreamSeq, p.Scope, err)
	}
	return nil
}

func (c *Conn) ensureDLQ(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	c.dlqMu.Lock()
	defer c.dlqMu.Unlock()
	if c.dlqReady {
		return nil
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DLQStream,
		Description: "rows syncd apply workers could not apply",
		Subjects:    []string{SubjectPrefix + ".*." + TokenDLQ},
		Storage:     jetstream.FileStorage,
		Replicas:    max(o.Replicas, 1),
		MaxAge:      o.MaxAge,
		Duplicates:  dlqWindow(o.MaxAge),
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", DLQStream, err)
	}
	c.dlqReady = true
	return nil
}
