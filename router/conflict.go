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

// ConflictStream holds the conflicts of every two-way scope, on subjects
// syncd.<scope>._conflict.
const ConflictStream = "SYNCD_CONFLICTS"

// Conflict is a change of a two-way scope that met a target row other
// than the one it expected, and how the scope's policy settled it
// (docs/wire-format.md, Conflicts).
type Conflict struct {
	Scope  string `json:"scope"`
	Target string `json:"target"`
	Table  string `json:"table"` // the target table
	// Kind is insert_exists, update_differs, update_missing,
	// delete_differs or delete_missing.
	Kind string `json:"kind"`
	// Rule is the policy that settled it (source_wins, target_wins,
	// newest_column, park), Outcome what it did: source_applied,
	// target_kept or parked.
	Rule    string `json:"rule"`
	Outcome string `json:"outcome"`
	// Base is the row as the source had it before the change (its
	// before-image), Source the row the change wrote there (nil for a
	// delete), TargetRow the target's row when the change came (nil if
	// it had none).
	Base      json.RawMessage `json:"base"`
	Source    json.RawMessage `json:"source"`
	TargetRow json.RawMessage `json:"target_row"`
	StreamSeq uint64          `json:"stream_seq"`    // the change's message in the scope stream
	Row       int             `json:"row,omitempty"` // its place in a message of several, from 1
	Message   json.RawMessage `json:"message"`       // the change's envelope
	At        time.Time       `json:"detected_at"`
}

// PublishConflict publishes c to syncd.<scope>._conflict and waits until
// JetStream stored it. Its message id names the change (target, scope,
// stream sequence, row), so a worker that applies the change again after
// a restart or a rolled-back transaction records it once, within the
// stream's duplicate window.
func (c *Conn) PublishConflict(ctx context.Context, cf Conflict, streams StreamOptions) error {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	if err := c.ensureConflicts(ctx, js, streams); err != nil {
		return err
	}
	id := "conflict:" + cf.Target + ":" + cf.Scope + ":" + strconv.FormatUint(cf.StreamSeq, 10) + ":" + strconv.Itoa(cf.Row)
	msg := &nats.Msg{
		Subject: ReservedSubject(cf.Scope, TokenConflict),
		Data:    mustJSON(cf),
		Header:  nats.Header{HeaderMsgID: {id}, HeaderType: contentTypeJSON},
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish conflict of message %d of scope %s: %w", cf.StreamSeq, cf.Scope, err)
	}
	return nil
}

func (c *Conn) ensureConflicts(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	return c.ensureReserved(ctx, js, o, &c.conflictsReady, ConflictStream, TokenConflict,
		"conflicts syncd apply workers of two-way scopes met, and how they were settled")
}
