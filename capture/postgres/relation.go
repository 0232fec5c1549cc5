package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pglogrepl"

	"github.com/syncd-dev/syncd/capture"
)

// relation is one version of a published table, as the last Relation
// message described it, with a decoder per column.
type relation struct {
	table    *capture.Table
	decoders []decoder
	identity []bool // column is part of the replica identity
	full     bool   // REPLICA IDENTITY FULL: old rows are complete
	// Scratch rows; the sink does not keep rows after Change returns.
	before, after capture.Row
}

// newRelation builds a relation from a Relation message, resolving column
// types through the catalog.
func (ss *session) newRelation(ctx context.Context, m *pglogrepl.RelationMessage) (*relation, error) {
	n := len(m.Columns)
	oids := make([]uint32, n)
	mods := make([]int32, n)
	for i, c := range m.Columns {
		oids[i], mods[i] = c.DataType, c.TypeModifier
	}
	if err := ss.types.resolve(ctx, ss.cat, oids); err != nil {
		return nil, fmt.Errorf("resolve column types of %s.%s: %w", m.Namespace, m.RelationName, err)
	}
	rows, err := ss.cat.Query(ctx, `SELECT format_type(t, m) FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS u(t, m, o) ORDER BY o`, oids, mods)
	if err != nil {
		return nil, fmt.Errorf("name column types of %s.%s: %w", m.Namespace, m.RelationName, err)
	}
	typeNames := make([]string, 0, n)
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("name column types of %s.%s: %w", m.Namespace, m.RelationName, err)
		}
		typeNames = append(typeNames, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("name column types of %s.%s: %w", m.Namespace, m.RelationName, err)
	}

	t := &capture.Table{Schema: m.Namespace, Name: m.RelationName, Columns: make([]capture.Column, n)}
	r := &relation{
		table:    t,
		decoders: make([]decoder, n),
		identity: make([]bool, n),
		full:     m.ReplicaIdentity == 'f',
		before:   make(capture.Row, n),
		after:    make(capture.Row, n),
	}
	for i, c := range m.Columns {
		t.Columns[i] = capture.Column{Name: c.Name, Type: typeNames[i]}
		r.decoders[i] = ss.types.decoder(c.DataType)
		r.identity[i] = c.Flags&1 != 0
	}
	// The key is the primary key. With REPLICA IDENTITY FULL every column is
	// flagged, so take it from the catalog; otherwise the flagged columns
	// are the identity index, which is the primary key by default.
	if ti := ss.tables[t.ID()]; r.full && ti != nil {
		for _, name := range ti.pk {
			if i := t.Column(name); i >= 0 {
				t.Key = append(t.Key, i)
			}
		}
	} else if !r.full {
		for i, flagged := range r.identity {
			if flagged {
				t.Key = append(t.Key, i)
			}
		}
	}
	return r, nil
}

// decode fills row from a tuple. In a key tuple ('K') the columns outside
// the replica identity are sent as nulls but mean "not sent": they become
// capture.Absent, as do unchanged TOAST values.
func (r *relation) decode(t *pglogrepl.TupleData, row capture.Row, keyOnly bool) error {
	if len(t.Columns) != len(row) {
		return fmt.Errorf("decode row of %s: %d columns, relation has %d", r.table.ID(), len(t.Columns), len(row))
	}
	for i, c := range t.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			if keyOnly && !r.identity[i] {
				row[i] = capture.Absent
			} else {
				row[i] = nil
			}
		case pglogrepl.TupleDataTypeToast:
			row[i] = capture.Absent
		case pglogrepl.TupleDataTypeText:
			v, err := r.decoders[i](c.Data)
			if err != nil {
				return fmt.Errorf("decode %s.%s: %w", r.table.ID(), r.table.Columns[i].Name, err)
			}
			row[i] = v
		default:
			return fmt.Errorf("decode %s.%s: unsupported tuple data type %q", r.table.ID(), r.table.Columns[i].Name, c.DataType)
		}
	}
	return nil
}

// fillUnchanged copies into after the values of unchanged TOAST columns
// that a full old row carries.
func fillUnchanged(after, before capture.Row) {
	for i, v := range after {
		if v == capture.Absent && before[i] != capture.Absent {
			after[i] = before[i]
		}
	}
}

// errMalformed reports a pgoutput message whose framing is broken.
var errMalformed = errors.New("malformed pgoutput message")

// parseMessage parses one pgoutput message. pglogrepl.Parse indexes its
// input without bounds checks: a truncated or corrupt message makes it
// panic, which would take the whole daemon down, and a corrupt tuple
// length makes it allocate up to 4 GiB first. So the framing of the
// messages that carry tuples is checked here first, and a panic of the
// parser on any other message becomes an error.
func parseMessage(data []byte) (m pglogrepl.Message, err error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("empty message: %w", errMalformed)
	}
	if !tuplesFit(data) {
		return nil, fmt.Errorf("%q message of %d bytes: tuple data out of bounds: %w", data[0], len(data), errMalformed)
	}
	switch data[0] {
	case 'I', 'U', 'D':
		return parseRowMessage(data), nil
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%q message of %d bytes: %v: %w", data[0], len(data), r, errMalformed)
		}
	}()
	return pglogrepl.Parse(data)
}

// parseRowMessage parses an Insert, Update or Delete message that
// tuplesFit accepted into the message pglogrepl.Parse returns, in half
// its time and with a third of its allocations (BenchmarkParseInsert):
// pglogrepl allocates a column and a copy of its value for each column,
// and copies byte by byte. Here the columns of a tuple are one array,
// and their values slice one copy of data, so that they stay valid when
// the connection reuses its buffer. FuzzDecodeTuple checks that both
// give the same message.
// (pglogrepl.Parse also refuses an Insert into a table without columns,
// which is shorter than it expects; this does not.)
func parseRowMessage(data []byte) pglogrepl.Message {
	buf := bytes.Clone(data)
	rel := binary.BigEndian.Uint32(buf[1:])
	const off = 1 + 4 // type and relation id
	switch buf[0] {
	case 'I':
		m := &pglogrepl.InsertMessage{RelationID: rel}
		m.Tuple, _ = parseTuple(buf, off+1)
		m.SetType(pglogrepl.MessageTypeInsert)
		return m
	case 'U':
		m := &pglogrepl.UpdateMessage{RelationID: rel}
		next := off
		if t := buf[off]; t == 'K' || t == 'O' {
			m.OldTupleType = t
			m.OldTuple, next = parseTuple(buf, off+1)
		}
		m.NewTuple, _ = parseTuple(buf, next+1) // past 'N'
		m.SetType(pglogrepl.MessageTypeUpdate)
		return m
	default: // 'D'
		m := &pglogrepl.DeleteMessage{RelationID: rel, OldTupleType: buf[off]}
		m.OldTuple, _ = parseTuple(buf, off+1)
		m.SetType(pglogrepl.MessageTypeDelete)
		return m
	}
}

// parseTuple parses the TupleData at data[off:], which tupleEnd found
// to fit, and returns it with the offset just past it. Column values
// slice data.
func parseTuple(data []byte, off int) (*pglogrepl.TupleData, int) {
	n := int(binary.BigEndian.Uint16(data[off:]))
	off += 2
	t := &pglogrepl.TupleData{ColumnNum: uint16(n)}
	if n == 0 {
		return t, off
	}
	cols := make([]pglogrepl.TupleDataColumn, n)
	t.Columns = make([]*pglogrepl.TupleDataColumn, n)
	for i := range cols {
		c := &cols[i]
		c.DataType = data[off]
		off++
		if c.DataType == pglogrepl.TupleDataTypeText || c.DataType == pglogrepl.TupleDataTypeBinary {
			c.Length = binary.BigEndian.Uint32(data[off:])
			off += 4
			end := off + int(c.Length)
			c.Data = data[off:end:end]
			off = end
		}
		t.Columns[i] = c
	}
	return t, off
}

// tuplesFit reports whether the tuples of an Insert, Update or Delete
// message lie within data, with the tuple type bytes the protocol puts
// before them:
//
//	Insert  'I' relid 'N' tuple
//	Update  'U' relid ['K'|'O' tuple] 'N' tuple
//	Delete  'D' relid ('K'|'O') tuple
//
// Other messages carry no tuples and are not checked.
func tuplesFit(data []byte) bool {
	const head = 1 + 4 // type and relation id
	if len(data) < head+1 {
		return data[0] != 'I' && data[0] != 'U' && data[0] != 'D'
	}
	next, off := data[head], head+1
	switch data[0] {
	case 'I':
		return next == 'N' && tupleEnd(data, off) >= 0
	case 'U':
		if next == 'K' || next == 'O' {
			if off = tupleEnd(data, off); off < 0 || off >= len(data) || data[off] != 'N' {
				return false
			}
			off++
		} else if next != 'N' {
			return false
		}
		return tupleEnd(data, off) >= 0
	case 'D':
		return (next == 'K' || next == 'O') && tupleEnd(data, off) >= 0
	}
	return true
}

// tupleEnd returns the offset just past the TupleData at data[off:], or -1
// if it does not fit in data.
func tupleEnd(data []byte, off int) int {
	if len(data)-off < 2 {
		return -1
	}
	n := int(binary.BigEndian.Uint16(data[off:]))
	off += 2
	for range n {
		if off >= len(data) {
			return -1
		}
		kind := data[off]
		off++
		if kind == pglogrepl.TupleDataTypeText || kind == pglogrepl.TupleDataTypeBinary {
			if len(data)-off < 4 {
				return -1
			}
			size := binary.BigEndian.Uint32(data[off:])
			off += 4
			if uint64(size) > uint64(len(data)-off) {
				return -1
			}
			off += int(size)
		}
	}
	return off
}
