package capture

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is a point in a source's change log. Positions of one source
// grow in commit order, so they compare with the usual operators.
//
// Its text form is two hexadecimal numbers, "X/Y", the high and low 32 bits
// (the PostgreSQL LSN notation). Each engine maps its log coordinates onto
// it: PostgreSQL LSNs as they are.
type Position uint64

func (p Position) String() string {
	return fmt.Sprintf("%X/%X", uint32(p>>32), uint32(p))
}

// AppendText appends p's text form to b.
func (p Position) AppendText(b []byte) []byte {
	start := len(b)
	b = strconv.AppendUint(b, uint64(p>>32), 16)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(uint32(p)), 16)
	for i := start; i < len(b); i++ {
		if c := b[i]; c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return b
}

// ParsePosition parses the "X/Y" text form.
func ParsePosition(s string) (Position, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("parse position %q: want X/Y", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("parse position %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("parse position %q: %w", s, err)
	}
	return Position(h<<32 | l), nil
}

// MarshalText implements encoding.TextMarshaler, so positions read as
// "X/Y" in logs and JSON.
func (p Position) MarshalText() ([]byte, error) { return p.AppendText(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Position) UnmarshalText(b []byte) error {
	v, err := ParsePosition(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
