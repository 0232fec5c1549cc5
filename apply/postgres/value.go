package postgres

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// converter turns wire values (docs/wire-format.md) into the text that
// PostgreSQL's input functions read. Its buffers are reused from value to
// value; it is not safe for concurrent use.
type converter struct {
	b64  []byte // base64 text of a bytea value
	elem []byte // text of an array element, before quoting
}

// errNotJSON is a value that is not the JSON the wire format promises.
var errNotJSON = errors.New("invalid JSON value")

// appendValue appends the text form of raw for a column of kind k and
// reports null for JSON null:
//
//	null             → NULL
//	string           → its contents; bytea: base64-decoded, as \x hex;
//	                   json: the JSON string itself
//	number, boolean  → as written
//	array            → json: as written; arrays and string types: an
//	                   array literal (see appendArray)
//	object           → json only
//
// Anything else is an error; dst may then hold part of the value.
func (cv *converter) appendValue(dst []byte, k kind, elem kind, delim byte, raw json.RawMessage) ([]byte, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return dst, false, errNotJSON
	}
	if string(raw) == "null" {
		return dst, true, nil
	}
	if k == kindJSON {
		return append(dst, raw...), false, nil
	}
	switch c := raw[0]; {
	case c == '"' && k == kindBytea:
		dst, err := cv.appendBytea(dst, raw)
		return dst, false, err
	case c == '"':
		dst, err := appendUnquoted(dst, raw)
		return dst, false, err
	case c == 't' || c == 'f' || c == '-' || (c >= '0' && c <= '9'):
		return append(dst, raw...), false, nil
	case c == '[' && k == kindArray:
		dst, err := cv.appendArray(dst, raw, elem, delim)
		return dst, false, err
	case c == '[' && k == kindString:
		// A type the target does not know was created as text: keep the
		// array's text form, as the source would write it.
		dst, err := cv.appendArray(dst, raw, kindScalar, ',')
		return dst, false, err
	case c == '[':
		return dst, false, errors.New("an array for a column that is not an array, json or text")
	case c == '{':
		return dst, false, errors.New("an object for a column that is not json")
	}
	return dst, false, errNotJSON
}

// appendBytea appends the \x hex form of the bytes whose base64 is the
// JSON string raw.
func (cv *converter) appendBytea(dst, raw []byte) ([]byte, error) {
	var err error
	cv.b64, err = appendUnquoted(cv.b64[:0], raw)
	if err != nil {
		return dst, err
	}
	n := len(cv.b64)
	cv.b64, err = base64.StdEncoding.AppendDecode(cv.b64, cv.b64[:n])
	if err != nil {
		return dst, fmt.Errorf("decode base64: %w", err)
	}
	dst = append(dst, `\x`...)
	return hex.AppendEncode(dst, cv.b64[n:]), nil
}

// appendUnquoted appends the contents of the JSON string raw.
func appendUnquoted(dst, raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return dst, errNotJSON
	}
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return append(dst, body...), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return dst, errNotJSON
	}
	return append(dst, s...), nil
}
