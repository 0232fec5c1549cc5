package router

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
)

// The fast path reads the bodies syncd itself writes (appendBody, and
// packs of them) without a tokenizer: it expects their exact layout, no
// white space, members in appendBody's order, each once, and row values
// that are strings, numbers, true, false or null. Given anything else it
// gives up, and the body is read again by the general decoder, which
// then reads or rejects it as encoding/json/v2 does. What the fast path
// accepts it reads as the general decoder would (FuzzDecode checks it):
// the syntax it accepts is a subset of JSON, which it checks as it goes.
//
// It reads a pack of snapshot rows several times faster than the
// general decoder (BenchmarkDecodeRows), which matters at the apply
// workers: they decode every message of a scope.

// fastScan is the state of one fast read of a body.
type fastScan struct {
	d    *rawDecoder
	data []byte
	i    int // offset of the next byte to read
}

// fastRows reads data, one envelope or a pack of them, or reports false.
func (d *rawDecoder) fastRows(data []byte) ([]*RawEnvelope, bool) {
	s := fastScan{d: d, data: data}
	if !s.lit("[") {
		e := new(RawEnvelope)
		if !s.envelope(e, &RawEnvelope{}) || s.i != len(data) {
			return nil, false
		}
		return []*RawEnvelope{e}, true
	}
	var list []*RawEnvelope
	prev := &RawEnvelope{}
	for {
		e := new(RawEnvelope)
		if !s.envelope(e, prev) {
			return nil, false
		}
		list, prev = append(list, e), e
		if s.lit("]") {
			break
		}
		if !s.lit(",") {
			return nil, false
		}
	}
	return list, s.i == len(data)
}

// lit consumes lit if the data goes on with it.
func (s *fastScan) lit(lit string) bool {
	if len(s.data)-s.i >= len(lit) && string(s.data[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// envelope reads one envelope as appendBody writes it into e, prev being
// the body's previous one (or an empty one).
func (s *fastScan) envelope(e, prev *RawEnvelope) bool {
	var ok bool
	if !s.lit(`{"op":`) {
		return false
	}
	if e.Op, ok = s.str(prev.Op); !ok || !s.lit(`,"key":`) {
		return false
	}
	if e.Key, ok = s.row(len(prev.Key)); !ok || !s.lit(`,"before":`) {
		return false
	}
	if e.Before, ok = s.row(len(prev.Before)); !ok || !s.lit(`,"after":`) {
		return false
	}
	if e.After, ok = s.row(len(prev.After)); !ok {
		return false
	}
	if s.lit(`,"unchanged":[`) {
		e.Unchanged = []string{}
		for !s.lit("]") {
			if len(e.Unchanged) > 0 && !s.lit(",") {
				return false
			}
			u, ok := s.str("")
			if !ok {
				return false
			}
			e.Unchanged = append(e.Unchanged, u)
		}
	}
	if !s.lit(`,"scope":`) || !fastCached(s, &s.d.scope, &e.Scope) ||
		!s.lit(`,"source":`) || !fastCached(s, &s.d.source, &e.Source) ||
		!s.lit(`,"txn":{"id":`) {
		return false
	}
	if e.Txn.ID, ok = s.str(prev.Txn.ID); !ok || !s.lit(`,"seq":`) {
		return false
	}
	seq, ok := s.int()
	if !ok || !s.lit(`,"last":`) {
		return false
	}
	e.Txn.Seq = int(seq)
	switch {
	case s.lit("true"):
		e.Txn.Last = true
	case s.lit("false"):
	default:
		return false
	}
	e.Txn.CopyEnd = s.lit(`,"copy_end":true`)
	if !s.lit(`},"ts_ms":`) {
		return false
	}
	if e.TsMs, ok = s.int(); !ok {
		return false
	}
	if s.lit(`,"error":`) {
		if e.Error, ok = s.str(""); !ok {
			return false
		}
	}
	return s.lit("}")
}

// fastCached reads a flat object (string, number and literal values)
// into *into as the general decoder's cache.read does for a fresh value.
func fastCached[T any](s *fastScan, c *cache[T], into *T) bool {
	// An object is self-delimiting: the data going on with the last one
	// read goes on with that object.
	if len(c.raw) > 0 && bytes.HasPrefix(s.data[s.i:], c.raw) {
		s.i += len(c.raw)
		*into = c.v
		return true
	}
	start := s.i
	if !s.lit("{") {
		return false
	}
	for n := 0; !s.lit("}"); n++ {
		if n > 0 && !s.lit(",") {
			return false
		}
		if _, ok := s.name(); !ok || !s.lit(":") || !s.value() {
			return false
		}
	}
	v := s.data[start:s.i]
	if jsonv2.Unmarshal(v, into, decodeOptions) != nil {
		return false
	}
	c.raw, c.v = append(c.raw[:0], v...), *into
	return true
}

// row reads a row object with values kept as slices of the body, made
// with room for size columns, or null.
func (s *fastScan) row(size int) (map[string]json.RawMessage, bool) {
	if s.lit("null") {
		return nil, true
	}
	if !s.lit("{") {
		return nil, false
	}
	row := make(map[string]json.RawMessage, size)
	for n := 0; !s.lit("}"); n++ {
		if n > 0 && !s.lit(",") {
			return nil, false
		}
		name, ok := s.name()
		if !ok || !s.lit(":") {
			return nil, false
		}
		col, ok := s.d.names[string(name)]
		if !ok {
			col = string(name)
			s.d.names[col] = col
		}
		start := s.i
		if !s.value() {
			return nil, false
		}
		row[col] = s.data[start:s.i:s.i]
	}
	return row, true
}

// name reads a string without escapes, valid UTF-8, and returns its
// content, a slice of the body.
func (s *fastScan) name() ([]byte, bool) {
	if !s.lit(`"`) {
		return nil, false
	}
	start, ascii := s.i, true
	for ; s.i < len(s.data); s.i++ {
		switch c := s.data[s.i]; {
		case c == '"':
			b := s.data[start:s.i]
			s.i++
			return b, ascii || utf8.Valid(b)
		case c < 0x20 || c == '\\':
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// str reads a string as name does, returning prev if equal to it.
func (s *fastScan) str(prev string) (string, bool) {
	b, ok := s.name()
	if !ok {
		return "", false
	}
	if string(b) == prev {
		return prev, true
	}
	return string(b), true
}

// value skips a string, number, true, false or null.
func (s *fastScan) value() bool {
	if s.i >= len(s.data) {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '"':
		return s.skipString()
	case c == '-' || c >= '0' && c <= '9':
		return s.skipNumber()
	default:
		return s.lit("null") || s.lit("true") || s.lit("false")
	}
}

// skipString skips a string. Invalid UTF-8 is allowed (decodeOptions);
// of the escapes, \u, whose surrogates need care, is left to the general
// decoder.
func (s *fastScan) skipString() bool {
	for s.i++; s.i < len(s.data); s.i++ {
		switch c := s.data[s.i]; {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			s.i++
			if s.i >= len(s.data) {
				return false
			}
			switch s.data[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			default:
				return false
			}
		}
	}
	return false
}

// skipNumber skips a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *fastScan) skipNumber() bool {
	s.lit("-")
	switch {
	case s.lit("0"):
	case s.i < len(s.data) && s.data[s.i] >= '1' && s.data[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.lit(".") && s.digits() == 0 {
		return false
	}
	if s.lit("e") || s.lit("E") {
		if !s.lit("+") {
			s.lit("-")
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// digits skips decimal digits and returns how many.
func (s *fastScan) digits() int {
	start := s.i
	for s.i < len(s.data) && s.data[s.i] >= '0' && s.data[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// int reads an integer of at most 18 digits, without fraction or
// exponent.
func (s *fastScan) int() (int64, bool) {
	neg := s.lit("-")
	start := s.i
	if n := s.digits(); n == 0 || n > 18 || n > 1 && s.data[start] == '0' {
		return 0, false
	}
	if s.i < len(s.data) && (s.data[s.i] == '.' || s.data[s.i] == 'e' || s.data[s.i] == 'E') {
		return 0, false
	}
	var n int64
	for _, c := range s.data[start:s.i] {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
