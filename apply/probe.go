package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// BatchProber is a Prober that reads the target's rows of several
// changes in one query per table, instead of a round trip per change.
type BatchProber interface {
	Prober
	// ProbeAll applies what the transaction has queued, then reads the
	// target's row of each change of cs as Probe reads it, columns[i]
	// being Probe's column for cs[i]: ps[i] is cs[i]'s probe. No two
	// changes of cs touch the same key of a table (an insert's new key,
	// an update's old and new keys, a delete's old key): each probe sees
	// the target as it was before all of them. A change it cannot probe
	// fails it with a *RejectedError naming the change. An error ends the
	// transaction, as Apply's do.
	ProbeAll(ctx context.Context, cs []*Change, columns []string) (ps []Probe, err error)
}

// A PipeProber is a BatchProber that sends a batch's probe without
// waiting for it, so that the server reads the rows while the next
// changes are decoded.
type PipeProber interface {
	BatchProber
	// SendProbe sends what the transaction has queued and then the probe
	// of cs, as ProbeAll reads it, and returns at once: read waits for
	// the probe and returns ProbeAll's result. Until read returns, the
	// caller applies nothing in the transaction (other calls wait for
	// the probe first). An error ends the transaction, as Apply's do.
	SendProbe(ctx context.Context, cs []*Change, columns []string) (read func() ([]Probe, error), err error)
}

// An InsertProber is a PipeProber that writes the inserts it is sent
// instead of probing them, where their key is not at the target: an
// insert that goes in found no row, which is what its probe would read.
type InsertProber interface {
	PipeProber
	// SendProbeInserts is SendProbe, except that each insert of cs (op c
	// or r without an old row) it can write is written where the target
	// lacks its key: ps[i].Written then says that cs[i] is applied, and
	// its probe reads no row. An insert whose key the target holds is
	// not written: it is probed as SendProbe probes it, before read
	// returns, and the caller settles it.
	SendProbeInserts(ctx context.Context, cs []*Change, columns []string) (read func() ([]Probe, error), err error)
}

// pipeProbeBatch bounds the changes of a probe sent by SendProbe: a part
// of a target transaction, so that the server probes one part, and
// writes the part before, while the changes of the next are decoded.
const pipeProbeBatch = 500

// maxProbeBatch bounds the changes of a two-way scope held back to be
// probed together: a target transaction's (Config.MaxRows' default), as
// each probe is a round trip that the transaction waits for.
const maxProbeBatch = 10_000

// probeBatch is the changes of a two-way scope waiting to be probed and
// applied, in order, and the keys they touch: a change that touches one
// of them must wait until they are applied, so that its probe sees them
// (an insert and then an update of the same row, in one transaction).
//
// With a PipeProber, rows are sent (sendHeld) while the next changes are
// held: sent and read are the changes whose probe is on its way and how
// to read it, and sent's changes are settled before any other change is
// applied or probed.
type probeBatch struct {
	rows []heldRow
	keys map[string]bool
	sent []heldRow
	read func() ([]Probe, error)
}

// heldRow is a change held in a probeBatch: c, row i of d, its table's
// conflict policy and the column its probe reads (prepareTwoWay).
type heldRow struct {
	c   *Change
	d   *router.Delivery
	i   int
	pol scopes.Conflicts
	col string
}

// applyTwoWay applies c, row i of d, in a two-way scope's batch b. A
// change that ProbeAll can take is held in b.held, probed and applied
// with the changes held before it when they are maxProbeBatch, when a
// change touches a key one of them touches, and before b commits
// (flushHeld); others go through s.apply after the held changes. In an
// isolated transaction every change goes alone, so that a rejected one
// is known.
func (s *session) applyTwoWay(ctx context.Context, b *batch, c *Change, d *router.Delivery, i int) error {
	_, batches := b.tx.(BatchProber)
	keys, ok := touchedKeys(c)
	if !batches || b.isolate || !ok {
		if err := s.flushHeld(ctx, b); err != nil {
			return err
		}
		return s.apply(ctx, b.tx, c, d, i)
	}
	h := &b.held
	for _, k := range keys {
		if h.keys[k] {
			if err := s.sendHeld(ctx, b); err != nil {
				return err
			}
			break
		}
	}
	if h.keys == nil {
		h.keys = map[string]bool{}
	}
	for _, k := range keys {
		h.keys[k] = true
	}
	pol, col := s.prepareTwoWay(c, d.Rows[i])
	h.rows = append(h.rows, heldRow{c: c, d: d, i: i, pol: pol, col: col})
	if _, pipe := b.tx.(PipeProber); pipe && len(h.rows) >= pipeProbeBatch {
		return s.sendHeld(ctx, b)
	}
	if len(h.rows) >= maxProbeBatch {
		return s.flushHeld(ctx, b)
	}
	return nil
}

// sendHeld, with a PipeProber, settles the changes whose probe was sent
// (settleSent), then sends the probe of the changes held in b, after
// their writes; without one, it is flushHeld.
func (s *session) sendHeld(ctx context.Context, b *batch) error {
	pp, ok := b.tx.(PipeProber)
	if !ok {
		return s.flushHeld(ctx, b)
	}
	if err := s.settleSent(ctx, b); err != nil {
		return err
	}
	h := &b.held
	if len(h.rows) == 0 {
		return nil
	}
	cs := make([]*Change, len(h.rows))
	cols := make([]string, len(h.rows))
	for j, r := range h.rows {
		cs[j] = r.c
		cols[j] = r.col
	}
	send := pp.SendProbe
	if ip, ok := pp.(InsertProber); ok {
		send = ip.SendProbeInserts
	}
	read, err := send(ctx, cs, cols)
	if err != nil {
		return err
	}
	h.rows, h.sent, h.read = h.sent[:0], h.rows, read
	clear(h.keys)
	return nil
}

// settleSent reads the probe sent by sendHeld, if any, and settles and
// applies its changes in order (settle).
func (s *session) settleSent(ctx context.Context, b *batch) error {
	h := &b.held
	if h.read == nil {
		return nil
	}
	ps, err := h.read()
	h.read = nil
	if err != nil {
		return err
	}
	for j, r := range h.sent {
		if err := s.settle(ctx, b.tx, r.c, r.d, r.i, r.pol, ps[j]); err != nil {
			return err
		}
	}
	clear(h.sent)
	h.sent = h.sent[:0]
	return nil
}

// flushHeld probes the changes held in b, and settles and applies each
// in order (settle), after those whose probe was sent (sendHeld): b then
// holds none.
func (s *session) flushHeld(ctx context.Context, b *batch) error {
	if _, ok := b.tx.(PipeProber); ok {
		if err := s.sendHeld(ctx, b); err != nil {
			return err
		}
		return s.settleSent(ctx, b)
	}
	h := &b.held
	if len(h.rows) == 0 {
		return nil
	}
	rows := h.rows
	h.rows = h.rows[:0]
	clear(h.keys)
	cs := make([]*Change, len(rows))
	cols := make([]string, len(rows))
	for j, r := range rows {
		cs[j] = r.c
		cols[j] = r.col
	}
	ps, err := b.tx.(BatchProber).ProbeAll(ctx, cs, cols)
	if err != nil {
		return err
	}
	for j, r := range rows {
		if err := s.settle(ctx, b.tx, r.c, r.d, r.i, r.pol, ps[j]); err != nil {
			return err
		}
	}
	return nil
}

// touchedKeys returns the keys c touches at the target, each as its
// table and key values: an insert's new key, a delete's old key, an
// update's old key and new key. ok is false for a change that batched
// probing does not take (truncates; a table without a key; a key value
// missing, which the single probe reports).
//
// Key values are compared as their wire JSON, strings folded to lower
// case and without trailing spaces, so that keys that a target's
// case-insensitive or PAD SPACE collation takes as one key are one here
// too: two changes whose keys might be the same row are never probed
// together.
func touchedKeys(c *Change) (keys []string, ok bool) {
	if len(c.Table.Key) == 0 {
		return nil, false
	}
	key := func(value func(name string) (json.RawMessage, bool)) (string, bool) {
		var b strings.Builder
		b.WriteString(c.Table.Target.String())
		for _, name := range c.Table.Key {
			raw, ok := value(name)
			if !ok {
				return "", false
			}
			b.WriteByte(0)
			b.WriteString(foldKey(raw))
		}
		return b.String(), true
	}
	old := func(name string) (json.RawMessage, bool) {
		raw, err := c.ProbeKey(name)
		return raw, err == nil
	}
	switch c.Op {
	case capture.OpInsert, capture.OpRead, capture.OpDelete:
		k, ok := key(old)
		return []string{k}, ok
	case capture.OpUpdate:
		k, ok := key(old)
		if !ok {
			return nil, false
		}
		moved, ok := key(func(name string) (json.RawMessage, bool) {
			if raw, ok := c.After[name]; ok {
				return raw, true
			}
			raw, ok := c.Key[name]
			return raw, ok
		})
		if !ok {
			return nil, false
		}
		return []string{k, moved}, true
	}
	return nil, false
}

// foldKey returns a key value's wire JSON as touchedKeys compares it.
func foldKey(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return `"` + strings.TrimRight(strings.ToLower(s), " ")
	}
	return string(raw)
}
