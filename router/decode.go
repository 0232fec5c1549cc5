package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// rawDecoder reads message bodies into RawEnvelopes token by token. It
// reads exactly as github.com/go-json-experiment/json's Unmarshal reads
// into a RawEnvelope with the options in decodeOptions, which FuzzDecode
// checks: member names match case-sensitively, unknown members are
// skipped, null sets a zero value, a repeated name's value replaces the
// earlier one (or is merged into it, for objects), and invalid UTF-8 in
// strings becomes U+FFFD. Row values are kept as sent: a json column's
// document may repeat names, and before this decoder syncd passed
// invalid UTF-8 in them on.
//
// It is faster than Unmarshal: row values are slices of the body, not
// copies, column names are interned, and the scope and source objects
// that the rows of a packed message share are read once.
type rawDecoder struct {
	data  []byte // the body being read
	dec   *jsontext.Decoder
	idle  bytes.Buffer      // empty: what dec reads between bodies
	names map[string]string // column names, interned
	prev  *RawEnvelope      // the body's previous envelope, nil at its first
	// The last scope and source objects read, kept from body to body:
	// the messages of a scope share their scope object, and the rows of
	// a source transaction their source object.
	scope  cache[EnvelopeScope]
	source cache[EnvelopeSource]
}

// cache is a value read, with its JSON.
type cache[T any] struct {
	raw []byte // empty: none yet
	v   T
}

// decodeOptions are the syntax rawDecoder accepts.
var decodeOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

var decoders = sync.Pool{New: func() any {
	d := &rawDecoder{names: make(map[string]string)}
	d.dec = jsontext.NewDecoder(&d.idle, decodeOptions)
	return d
}}

// maxNames bounds the interned column names a pooled decoder keeps.
const maxNames = 4096

// decode reads data, one JSON value, with read, which reads that value
// from d.dec.
func decode(data []byte, read func(d *rawDecoder) error) error {
	d := decoders.Get().(*rawDecoder)
	defer func() {
		d.data, d.prev = nil, nil
		d.dec.Reset(&d.idle, decodeOptions)
		if len(d.names) > maxNames {
			clear(d.names)
		}
		decoders.Put(d)
	}()
	// From a bytes.Buffer the decoder reads in place.
	d.data = data
	d.dec.Reset(bytes.NewBuffer(data), decodeOptions)
	if err := read(d); err != nil {
		return err
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON value")
		}
		return err
	}
	return nil
}

// envelopes reads an array of envelopes into es.
func (d *rawDecoder) envelopes(es *[]*RawEnvelope) error {
	switch d.dec.PeekKind() {
	case 'n':
		_, err := d.dec.ReadToken()
		return err
	case '[':
	default:
		return d.mismatch("array of envelopes")
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	list := []*RawEnvelope{}
	for d.dec.PeekKind() != ']' {
		var e *RawEnvelope
		if d.dec.PeekKind() != 'n' {
			e = new(RawEnvelope)
		}
		if err := d.envelope(e); err != nil {
			return err
		}
		list = append(list, e)
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	*es = list
	return nil
}

// envelope reads one envelope into e, or null with e nil.
func (d *rawDecoder) envelope(e *RawEnvelope) error {
	if e == nil {
		_, err := d.dec.ReadToken()
		return err
	}
	prev := d.prev
	if prev == nil {
		prev = &RawEnvelope{}
	}
	seenScope, seenSource := false, false
	err := object(d, "envelope", e, func(name []byte) error {
		var err error
		switch string(name) {
		case "op":
			e.Op, err = d.str(prev.Op)
		case "key":
			e.Key, err = d.row(e.Key, len(prev.Key))
		case "before":
			e.Before, err = d.row(e.Before, len(prev.Before))
		case "after":
			e.After, err = d.row(e.After, len(prev.After))
		case "unchanged":
			e.Unchanged, err = d.strs()
		case "scope":
			err = d.scope.read(d.dec, &e.Scope, !seenScope)
			seenScope = true
		case "source":
			err = d.source.read(d.dec, &e.Source, !seenSource)
			seenSource = true
		case "txn":
			err = object(d, "txn", &e.Txn, func(name []byte) error {
				switch string(name) {
				case "id":
					e.Txn.ID, err = d.str(prev.Txn.ID)
				case "seq":
					var n int64
					n, err = d.int()
					e.Txn.Seq = int(n)
				case "last":
					e.Txn.Last, err = d.bool()
				case "copy_end":
					e.Txn.CopyEnd, err = d.bool()
				default:
					err = d.dec.SkipValue()
				}
				return err
			})
		case "ts_ms":
			e.TsMs, err = d.int()
		case "error":
			e.Error, err = d.str("")
		default:
			err = d.dec.SkipValue()
		}
		return err
	})
	if err != nil {
		return err
	}
	d.prev = e
	return nil
}

// read reads a value into *into as the json package does. If fresh,
// *into is a zero value and a value with the same JSON as the last one
// read fresh is not read again but copied.
func (c *cache[T]) read(dec *jsontext.Decoder, into *T, fresh bool) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if fresh && len(c.raw) > 0 && bytes.Equal(v, c.raw) {
		*into = c.v
		return nil
	}
	if err := jsonv2.Unmarshal(v, into, decodeOptions); err != nil {
		return err
	}
	if fresh {
		c.raw, c.v = append(c.raw[:0], v...), *into
	}
	return nil
}

// object reads an object into *into, calling member with each name,
// which must read the member's value, or null, which zeroes *into.
func object[T any](d *rawDecoder, what string, into *T, member func(name []byte) error) error {
	switch d.dec.PeekKind() {
	case 'n':
		var zero T
		*into = zero
		_, err := d.dec.ReadToken()
		return err
	case '{':
	default:
		return d.mismatch(what)
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for d.dec.PeekKind() != '}' {
		name, err := d.name()
		if err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
	}
	_, err := d.dec.ReadToken()
	return err
}

// name reads an object member's name, unquoted. It is valid until the
// next read.
func (d *rawDecoder) name() ([]byte, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	return unquote(v), nil
}

// unquote returns the string v holds, without quotes, valid as long as v.
// The decoder has checked v's syntax: the error AppendUnquote may still
// return reports invalid UTF-8, which decodeOptions allow, replaced.
func unquote(v jsontext.Value) []byte {
	if in := v[1 : len(v)-1]; bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return in
	}
	b, _ := jsontext.AppendUnquote(nil, v)
	return b
}

// row reads a row object into row, made with room for size columns if
// nil, its values slices of the body; or null.
func (d *rawDecoder) row(row map[string]json.RawMessage, size int) (map[string]json.RawMessage, error) {
	if d.dec.PeekKind() == 'n' {
		_, err := d.dec.ReadToken()
		return nil, err
	}
	if row == nil && d.dec.PeekKind() == '{' {
		row = make(map[string]json.RawMessage, size)
	}
	err := object(d, "row", &row, func(name []byte) error {
		col, ok := d.names[string(name)]
		if !ok {
			col = string(name)
			d.names[col] = col
		}
		v, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		end := int(d.dec.InputOffset()) // just after v
		row[col] = d.data[end-len(v) : end : end]
		return nil
	})
	return row, err
}

// str reads a string, or null as "": prev if equal to it.
func (d *rawDecoder) str(prev string) (string, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return "", err
	}
	switch v.Kind() {
	case 'n':
		return "", nil
	case '"':
	default:
		return "", mismatch(v, "string")
	}
	b := unquote(v)
	if string(b) == prev {
		return prev, nil
	}
	return string(b), nil
}

// strs reads an array of strings, or null.
func (d *rawDecoder) strs() ([]string, error) {
	switch d.dec.PeekKind() {
	case 'n':
		_, err := d.dec.ReadToken()
		return nil, err
	case '[':
	default:
		return nil, d.mismatch("array of strings")
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return nil, err
	}
	list := []string{}
	for d.dec.PeekKind() != ']' {
		s, err := d.str("")
		if err != nil {
			return nil, err
		}
		list = append(list, s)
	}
	_, err := d.dec.ReadToken()
	return list, err
}

// int reads an integer, or null as 0. Fractions and exponents are
// refused, as the json package refuses them for integer fields.
func (d *rawDecoder) int() (int64, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return 0, err
	}
	switch v.Kind() {
	case 'n':
		return 0, nil
	case '0':
	default:
		return 0, mismatch(v, "integer")
	}
	digits, neg := []byte(v), v[0] == '-'
	if neg {
		digits = digits[1:]
	}
	var n uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, mismatch(v, "integer")
		}
		if n > (1<<63)/10 {
			return 0, fmt.Errorf("integer %s out of range", v)
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		return -int64(n), nil
	case !neg && n < 1<<63:
		return int64(n), nil
	}
	return 0, fmt.Errorf("integer %s out of range", v)
}

// bool reads true, false, or null as false.
func (d *rawDecoder) bool() (bool, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return false, err
	}
	switch v.Kind() {
	case 'n', 'f':
		return false, nil
	case 't':
		return true, nil
	}
	return false, mismatch(v, "boolean")
}

// mismatch reads the value that is not what was wanted and returns the
// error.
func (d *rawDecoder) mismatch(want string) error {
	v, err := d.dec.ReadValue()
	if err != nil {
		return err
	}
	return mismatch(v, want)
}

func mismatch(v jsontext.Value, want string) error {
	return fmt.Errorf("JSON %s where an %s belongs", v.Kind(), want)
}
