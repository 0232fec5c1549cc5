package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

// Reasons a message is published to a scope (envelope scope.reason).
const (
	ReasonChange     = "change"
	ReasonSnapshot   = "snapshot"
	ReasonScopeEnter = "scope_enter" // an update moved the row into the scope's filter
	ReasonScopeExit  = "scope_exit"  // an update, or a change of the scope's definition, moved the row out of it
	ReasonBackfill   = "backfill"    // a change of the scope's definition moved the row into it, or added columns
	ReasonResync     = "resync"      // a copy for one target (scope.target): a target added to the scope, or syncd resync
)

// Envelope is the JSON body of a row-change message, as documented in
// docs/wire-format.md, with row values decoded (json.Number for numbers).
type Envelope = EnvelopeOf[any]

// RawEnvelope is the body with row values kept as raw JSON, for writers
// that convert each value to its column's type.
type RawEnvelope = EnvelopeOf[json.RawMessage]

// EnvelopeScope is an envelope's scope object.
type EnvelopeScope struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	Reason  string `json:"reason"`
	// Target, when set, is the one target of the scope the row is for
	// (reason resync); the scope's other targets skip it.
	Target string `json:"target,omitempty"`
}

// EnvelopeSource is an envelope's source object.
type EnvelopeSource struct {
	Kind     string           `json:"kind"`
	Name     string           `json:"name"`
	DB       string           `json:"db"`
	Schema   string           `json:"schema"`
	Table    string           `json:"table"`
	Pos      capture.Position `json:"pos"`
	CommitTS time.Time        `json:"commit_ts"`
	Snapshot bool             `json:"snapshot"`
	Origin   string           `json:"origin,omitempty"`
}

// EnvelopeOf is the JSON body of a row-change message with row values of
// type V.
type EnvelopeOf[V any] struct {
	Op        string         `json:"op"`
	Key       map[string]V   `json:"key"`
	Before    map[string]V   `json:"before"`
	After     map[string]V   `json:"after"`
	Unchanged []string       `json:"unchanged,omitempty"`
	Scope     EnvelopeScope  `json:"scope"`
	Source    EnvelopeSource `json:"source"`
	Txn       struct {
		ID   string `json:"id"`
		Seq  int    `json:"seq"`
		Last bool   `json:"last"`
		// CopyEnd, on the last message of a snapshot transaction, says
		// that it ends the table's copy (docs/wire-format.md).
		CopyEnd bool `json:"copy_end,omitempty"`
	} `json:"txn"`
	TsMs int64 `json:"ts_ms"`
	// Error says why the scope's mapping could not map the row, which
	// then has no key, before or after: apply workers reject it, and
	// on_apply_error parks it or stops the scope.
	Error string `json:"error,omitempty"`
}

// Decode parses a message body as DecodeRaw does, with row values
// decoded, numbers as json.Number.
func Decode(data []byte) (*Envelope, error) {
	raw, err := DecodeRaw(data)
	if err != nil {
		return nil, err
	}
	return decoded(raw)
}

// DecodeAll parses a message body that is one envelope or an array of
// them (a packed message, see DecodeRows) as Decode does, one Envelope a
// row.
func DecodeAll(data []byte) ([]*Envelope, error) {
	raws, err := DecodeRows(data)
	if err != nil {
		return nil, err
	}
	out := make([]*Envelope, len(raws))
	for i, raw := range raws {
		if out[i], err = decoded(raw); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decoded returns raw with its row values decoded.
func decoded(raw *RawEnvelope) (*Envelope, error) {
	e := &Envelope{Op: raw.Op, Unchanged: raw.Unchanged, Scope: raw.Scope, Source: raw.Source, Txn: raw.Txn, TsMs: raw.TsMs, Error: raw.Error}
	for _, r := range []struct {
		to   *map[string]any
		from map[string]json.RawMessage
	}{{&e.Key, raw.Key}, {&e.Before, raw.Before}, {&e.After, raw.After}} {
		if r.from == nil {
			continue
		}
		*r.to = make(map[string]any, len(r.from))
		for name, v := range r.from {
			d := json.NewDecoder(bytes.NewReader(v))
			d.UseNumber()
			var x any
			if err := d.Decode(&x); err != nil {
				return nil, fmt.Errorf("decode envelope: value of %q: %w", name, err)
			}
			(*r.to)[name] = x
		}
	}
	return e, nil
}

// DecodeRaw parses a message body, keeping row values as raw JSON (slices
// of data, which must not change while they are used), as
// github.com/go-json-experiment/json (encoding/json/v2) reads it into a
// RawEnvelope with duplicate names and invalid UTF-8 allowed (see
// rawDecoder), except that a body of null is an error.
func DecodeRaw(data []byte) (*RawEnvelope, error) {
	e := new(RawEnvelope)
	err := decode(data, func(d *rawDecoder) error {
		if d.dec.PeekKind() == 'n' {
			return errors.New("null where an envelope belongs")
		}
		return d.envelope(e)
	})
	if err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	return e, nil
}

// DecodeRows parses a message body that is one envelope or, from a scope
// with rows_per_message above 1, a JSON array of them, as DecodeRaw
// does. It returns at least one envelope.
func DecodeRows(data []byte) ([]*RawEnvelope, error) {
	if !IsPack(data) {
		e, err := DecodeRaw(data)
		if err != nil {
			return nil, err
		}
		return []*RawEnvelope{e}, nil
	}
	var es []*RawEnvelope
	if err := decode(data, func(d *rawDecoder) error { return d.envelopes(&es) }); err != nil {
		return nil, fmt.Errorf("decode envelopes: %w", err)
	}
	if len(es) == 0 || slices.Contains(es, nil) {
		return nil, errors.New("decode envelopes: an empty array or a null row")
	}
	return es, nil
}

// IsPack reports whether a message body is an array of envelopes.
func IsPack(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == '['
}

// message is one routed row change, ready to encode.
type message struct {
	plan   *plan
	op     capture.Op
	reason string
	target string // see EnvelopeScope.Target
	ev     *capture.Event
	key    capture.Row // nil: "key":null
	before capture.Row // nil: "before":null
	after  capture.Row // nil: "after":null
	err    string      // the mapping's error: key, before and after are nil
	seq    int
}

// appendBody appends m's JSON body and returns it with the offset of the
// "false" of txn.last, which setLast turns into true.
func appendBody(b []byte, m *message, now time.Time) ([]byte, int) {
	p, ev := m.plan, m.ev
	b = append(b, `{"op":"`...)
	b = append(b, byte(m.op))
	b = append(b, `","key":`...)
	if m.key != nil && len(p.outKey) > 0 {
		b = p.appendRow(b, p.outKey, m.key)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"before":`...)
	b = p.appendProjected(b, m.before)
	b = append(b, `,"after":`...)
	b = p.appendProjected(b, m.after)
	if m.after != nil {
		b = p.appendUnchanged(b, m.after)
	}
	b = append(b, p.scopePrefix...)
	b = append(b, m.reason...)
	if m.target != "" {
		b = append(b, `","target":`...)
		b = appendString(b, m.target)
		b = b[:len(b)-1] // sourcePrefix closes the string
	}
	b = append(b, p.sourcePrefix...)
	b = append(b, p.txnText(ev.Txn)...)
	b = strconv.AppendInt(b, int64(m.seq), 10)
	b = append(b, `,"last":`...)
	lastOff := len(b)
	b = append(b, `false},"ts_ms":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	if m.err != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, m.err)
	}
	b = append(b, '}')
	return b, lastOff
}

// txnText returns the part of the bodies of txn's rows from the source's
// position to `,"seq":`.
func (p *plan) txnText(txn *capture.Txn) []byte {
	if p.txnOf == txn {
		return p.txnPart
	}
	b := txn.Pos.AppendText(p.txnPart[:0])
	b = append(b, `","commit_ts":"`...)
	b = txn.CommitTime.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","snapshot":`...)
	b = strconv.AppendBool(b, txn.Snapshot)
	if txn.Origin != "" {
		b = append(b, `,"origin":`...)
		b = appendString(b, txn.Origin)
	}
	b = append(b, `},"txn":{"id":`...)
	b = appendString(b, txn.ID)
	b = append(b, `,"seq":`...)
	p.txnOf, p.txnPart = txn, b
	return b
}

// setLast rewrites the txn.last "false" at off to "true", followed by
// "copy_end":true with copyEnd (the transaction ends a table's copy).
func setLast(body []byte, off int, copyEnd bool) []byte {
	if !copyEnd {
		copy(body[off:], "true")
		return append(body[:off+4], body[off+5:]...)
	}
	const end = `true,"copy_end":true`
	out := make([]byte, 0, len(body)+len(end))
	out = append(append(append(out, body[:off]...), end...), body[off+5:]...)
	return out
}

// appendProjected appends the projected columns of row present in it, or
// null for a nil row.
func (p *plan) appendProjected(b []byte, row capture.Row) []byte {
	if row == nil {
		return append(b, "null"...)
	}
	return p.appendRow(b, p.cols, row)
}

// appendRow appends {"col":value,...} for the columns cols of row, leaving
// out Absent values.
func (p *plan) appendRow(b []byte, cols []int, row capture.Row) []byte {
	b = append(b, '{')
	first := true
	for _, c := range cols {
		v := row[c]
		if v == capture.Absent {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, p.names[c]...)
		b = appendValue(b, v)
	}
	return append(b, '}')
}

// appendUnchanged appends ,"unchanged":[...] listing projected columns the
// source did not send, or nothing if it sent all.
func (p *plan) appendUnchanged(b []byte, row capture.Row) []byte {
	first := true
	for _, c := range p.cols {
		if row[c] != capture.Absent {
			continue
		}
		if first {
			b = append(b, `,"unchanged":[`...)
			first = false
		} else {
			b = append(b, ',')
		}
		b = appendString(b, p.out.Columns[c].Name)
	}
	if !first {
		b = append(b, ']')
	}
	return b
}
