package postgres

import (
	"errors"
	"fmt"
	"strconv"
)

// maxArrayDims is PostgreSQL's limit on array dimensions (MAXDIM).
const maxArrayDims = 6

// errArraySyntax reports text that is not an array in array_out's form.
var errArraySyntax = errors.New("malformed array")

// arrayDecoder returns a decoder for the text form of arrays of type
// typeName whose elements are separated by delim and decode with elem.
// The value is an []any of the elements, nested one []any per dimension
// ({{1,2},{3,4}} is [[1 2] [3 4]]); NULL elements are nil. Lower bounds
// ("[0:1]={7,8}") are checked and dropped. An empty array is an empty,
// non-nil []any.
func arrayDecoder(typeName string, elem decoder, delim byte) decoder {
	if delim == 0 {
		delim = ','
	}
	return func(text []byte) (any, error) {
		v, err := parseArray(text, delim, elem)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", typeName, err)
		}
		return v, nil
	}
}

// arrayParser reads array_out's text form:
//
//	[bounds=]{elem,elem,...}   elem: NULL | bare | "quoted" | {elem,...}
//
// following array_in's rules: whitespace around elements and braces is
// skipped, a backslash escapes the next byte, an unquoted NULL (any case)
// is SQL NULL, and all leaves are at the same depth with sub-arrays of one
// length per depth.
type arrayParser struct {
	src   []byte
	i     int
	delim byte
	elem  decoder
	// leaf is the depth of scalar elements once one has been seen, else -1.
	leaf int
	// lens holds the number of elements per depth, once known.
	lens [maxArrayDims]int
	// buf holds an element with its escapes removed.
	buf []byte
}

// parseArray parses the text form of an array. See arrayDecoder.
func parseArray(text []byte, delim byte, elem decoder) ([]any, error) {
	switch delim {
	case 0, '{', '}', '"', '\\', ' ', '\t', '\n', '\r', '\v', '\f':
		return nil, fmt.Errorf("array delimiter %q: %w", delim, errArraySyntax)
	}
	p := arrayParser{src: text, delim: delim, elem: elem, leaf: -1}
	p.skipSpace()
	var bounds [maxArrayDims][2]int
	ndims := 0
	if p.peek() == '[' {
		var err error
		if ndims, err = p.parseBounds(&bounds); err != nil {
			return nil, err
		}
	}
	v, err := p.parseLevel(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.src) {
		return nil, p.errorf("junk after closing brace")
	}
	if ndims > 0 {
		if ndims != p.leaf+1 {
			return nil, fmt.Errorf("%d dimensions in bounds, %d in value: %w", ndims, p.leaf+1, errArraySyntax)
		}
		for d, b := range bounds[:ndims] {
			if b[1]-b[0]+1 != p.lens[d] {
				return nil, fmt.Errorf("bounds [%d:%d] for %d elements: %w", b[0], b[1], p.lens[d], errArraySyntax)
			}
		}
	}
	return v, nil
}

// parseBounds reads "[lower:upper]..." into bounds, and the "=" that ends
// it. It returns the number of dimensions.
func (p *arrayParser) parseBounds(bounds *[maxArrayDims][2]int) (int, error) {
	n := 0
	for p.peek() == '[' {
		if n == maxArrayDims {
			return 0, p.errorf("more than %d dimensions", maxArrayDims)
		}
		p.i++
		lower, err := p.parseBound(':')
		if err != nil {
			return 0, err
		}
		upper, err := p.parseBound(']')
		if err != nil {
			return 0, err
		}
		if upper < lower {
			return 0, p.errorf("upper bound below lower bound")
		}
		bounds[n] = [2]int{lower, upper}
		n++
	}
	if p.peek() != '=' {
		return 0, p.errorf("expected '=' after bounds")
	}
	p.i++
	p.skipSpace()
	return n, nil
}

// parseBound reads a 32-bit integer and the byte end that follows it.
func (p *arrayParser) parseBound(end byte) (int, error) {
	start := p.i
	for p.i < len(p.src) && p.src[p.i] != end {
		p.i++
	}
	if p.i == len(p.src) {
		return 0, p.errorf("unterminated bounds")
	}
	n, err := strconv.ParseInt(string(p.src[start:p.i]), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("array bound: %w", err)
	}
	p.i++
	return int(n), nil
}

// parseLevel reads "{...}" at the given depth, with p.i at the '{'.
func (p *arrayParser) parseLevel(depth int) ([]any, error) {
	if depth == maxArrayDims {
		return nil, p.errorf("more than %d dimensions", maxArrayDims)
	}
	if p.peek() != '{' {
		return nil, p.errorf("expected '{'")
	}
	p.i++
	p.skipSpace()
	out := []any{}
	if p.peek() == '}' {
		p.i++
		if depth > 0 {
			return nil, p.errorf("empty sub-array")
		}
		return out, nil
	}
	for {
		p.skipSpace()
		var v any
		var err error
		if p.peek() == '{' {
			v, err = p.parseLevel(depth + 1)
		} else {
			v, err = p.parseElement(depth)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.skipSpace()
		c := p.peek()
		if c != p.delim && c != '}' {
			return nil, p.errorf("expected %q or '}'", p.delim)
		}
		p.i++
		if c == '}' {
			break
		}
	}
	if p.lens[depth] == 0 {
		p.lens[depth] = len(out)
	} else if p.lens[depth] != len(out) {
		return nil, p.errorf("sub-arrays of different lengths")
	}
	return out, nil
}

// parseElement reads one scalar element at depth and decodes it.
func (p *arrayParser) parseElement(depth int) (any, error) {
	if p.leaf == -1 {
		p.leaf = depth
	} else if p.leaf != depth {
		return nil, p.errorf("elements at different depths")
	}
	var text []byte
	if p.peek() == '"' {
		var err error
		if text, err = p.quoted(); err != nil {
			return nil, err
		}
	} else {
		var null bool
		var err error
		if text, null, err = p.bare(); err != nil || null {
			return nil, err
		}
	}
	v, err := p.elem(text)
	if err != nil {
		return nil, fmt.Errorf("element at byte %d: %w", p.i, err)
	}
	return v, nil
}

// quoted reads a double-quoted element and returns its text without quotes
// and escapes. The text aliases src or p.buf.
func (p *arrayParser) quoted() ([]byte, error) {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case '"':
			p.i++
			return p.src[start : p.i-1], nil
		case '\\':
			return p.quotedEscaped(start)
		}
		p.i++
	}
	return nil, p.errorf("unterminated quoted element")
}

// quotedEscaped continues quoted at the first backslash, copying the text
// since start into p.buf without escapes.
func (p *arrayParser) quotedEscaped(start int) ([]byte, error) {
	p.buf = append(p.buf[:0], p.src[start:p.i]...)
	for p.i < len(p.src) {
		c := p.src[p.i]
		p.i++
		switch c {
		case '"':
			return p.buf, nil
		case '\\':
			if p.i == len(p.src) {
				return nil, p.errorf("backslash at end")
			}
			c = p.src[p.i]
			p.i++
		}
		p.buf = append(p.buf, c)
	}
	return nil, p.errorf("unterminated quoted element")
}

// bare reads an unquoted element up to the delimiter or closing brace,
// without trailing whitespace and escapes, and reports whether it is NULL.
// The text aliases src or p.buf.
func (p *arrayParser) bare() (text []byte, null bool, err error) {
	start, escaped := p.i, false
	end := start // end of the text without trailing whitespace
	p.buf = p.buf[:0]
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case c == p.delim || c == '}':
			if end == start {
				return nil, false, p.errorf("empty unquoted element")
			}
			if escaped {
				return p.buf[:len(p.buf)-(p.i-end)], false, nil
			}
			text = p.src[start:end]
			return text, len(text) == 4 && isNull(text), nil
		case c == '{' || c == '"':
			return nil, false, p.errorf("unexpected %q in unquoted element", c)
		case c == '\\':
			if !escaped {
				p.buf = append(p.buf, p.src[start:p.i]...)
				escaped = true
			}
			if p.i+1 == len(p.src) {
				return nil, false, p.errorf("backslash at end")
			}
			p.i++
			c = p.src[p.i]
			p.i++
			end = p.i
		default:
			p.i++
			if !isArraySpace(c) {
				end = p.i
			}
		}
		if escaped {
			p.buf = append(p.buf, c)
		}
	}
	return nil, false, p.errorf("unterminated array")
}

func isNull(b []byte) bool {
	return (b[0]|0x20) == 'n' && (b[1]|0x20) == 'u' && (b[2]|0x20) == 'l' && (b[3]|0x20) == 'l'
}

// isArraySpace reports whether array_in skips c as whitespace.
func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func (p *arrayParser) skipSpace() {
	for p.i < len(p.src) && isArraySpace(p.src[p.i]) {
		p.i++
	}
}

// peek returns the next byte, or 0 at the end.
func (p *arrayParser) peek() byte {
	if p.i < len(p.src) {
		return p.src[p.i]
	}
	return 0
}

func (p *arrayParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s at byte %d: %w", fmt.Sprintf(format, args...), p.i, errArraySyntax)
}
