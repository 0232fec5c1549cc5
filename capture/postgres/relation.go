package postgres

import (
	"context"
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
