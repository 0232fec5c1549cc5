package postgres

import (
	"bytes"
	"errors"
)

// appendArray appends the PostgreSQL array literal of the JSON array raw,
// whose elements (of kind elem) are separated by delim. Nested arrays are
// dimensions ({{1,2},{3,4}}), except in arrays of json, whose elements are
// JSON documents whatever they hold. JSON null is NULL. Elements are
// quoted as PostgreSQL's array output quotes them, so that an array kept
// in a text column reads as it does at the source.
func (cv *converter) appendArray(dst, raw []byte, elem kind, delim byte) ([]byte, error) {
	s := skipSpace(raw[1:]) // raw[0] is '['
	dst = append(dst, '{')
	if len(s) > 0 && s[0] == ']' {
		return append(dst, '}'), nil
	}
	for first := true; ; first = false {
		if !first {
			dst = append(dst, delim)
		}
		n := valueLen(s)
		if n <= 0 {
			return dst, errNotJSON
		}
		v := s[:n]
		var err error
		switch {
		case v[0] == '[' && elem != kindJSON:
			dst, err = cv.appendArray(dst, v, elem, delim)
		case string(v) == "null":
			dst = append(dst, "NULL"...)
		case v[0] == '{' && elem != kindJSON:
			err = errors.New("an object in an array that is not of json")
		default:
			cv.elem, _, err = cv.appendValue(cv.elem[:0], elem, kindScalar, ',', v)
			dst = appendElement(dst, cv.elem, delim)
		}
		if err != nil {
			return dst, err
		}
		s = skipSpace(s[n:])
		if len(s) == 0 {
			return dst, errNotJSON
		}
		switch s[0] {
		case ']':
			if len(skipSpace(s[1:])) != 0 {
				return dst, errNotJSON
			}
			return append(dst, '}'), nil
		case ',':
			s = skipSpace(s[1:])
		default:
			return dst, errNotJSON
		}
	}
}

// appendElement appends v as an array element, double-quoted where
// array_out quotes it: empty, "NULL" in any case, or holding quotes,
// backslashes, braces, the delimiter or white space.
func appendElement(dst, v []byte, delim byte) []byte {
	if len(v) == 0 || (len(v) == 4 && bytes.EqualFold(v, []byte("NULL"))) {
		return appendQuoted(dst, v)
	}
	for _, c := range v {
		switch c {
		case '"', '\\', '{', '}', delim, ' ', '\t', '\n', '\r', '\v', '\f':
			return appendQuoted(dst, v)
		}
	}
	return append(dst, v...)
}

// appendQuoted appends v as a double-quoted array element: backslashes and
// double quotes are escaped with a backslash.
func appendQuoted(dst, v []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i, c := range v {
		if c == '"' || c == '\\' {
			dst = append(dst, v[start:i]...)
			dst = append(dst, '\\', c)
			start = i + 1
		}
	}
	dst = append(dst, v[start:]...)
	return append(dst, '"')
}

// valueLen returns the length of the JSON value at the start of s, or 0 if
// there is none. It checks only the value's extent, not its contents.
func valueLen(s []byte) int {
	if len(s) == 0 {
		return 0
	}
	switch s[0] {
	case '"':
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return 0
	case '[', '{':
		depth := 0
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '"':
				n := valueLen(s[i:])
				if n == 0 {
					return 0
				}
				i += n - 1
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return 0
	}
	for i, c := range s {
		switch c {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return len(s)
}

func skipSpace(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') {
		s = s[1:]
	}
	return s
}
