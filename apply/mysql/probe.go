package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/syncd-dev/syncd/apply"
)

var _ apply.Prober = (*tx)(nil)

// Probe implements apply.Prober: after sending what is queued, one query
// compares the row of c's key with c's old and new rows, column by column
// with the NULL-safe <=> (under each column's collation), and returns it
// as a JSON object.
func (x *tx) Probe(ctx context.Context, c *apply.Change, column string) (apply.Probe, error) {
	tb, _, ok := x.t.tables.Table(c.Table.Target)
	if !ok {
		return apply.Probe{}, fmt.Errorf("table %s was not prepared at target %s", c.Table.Target, x.t.cfg.Name)
	}
	q, args, err := probeSQL(tb, c, column)
	if err != nil {
		return apply.Probe{}, apply.Reject(err, c, refused)
	}
	var p apply.Probe
	var row []byte
	found, err := x.QueryRow(ctx, q, args, &row, &p.Base, &p.New, &p.Newer)
	if err != nil {
		return apply.Probe{}, fmt.Errorf("read the row of %s: %w", tb.name, err)
	}
	if !found {
		return apply.Probe{}, nil
	}
	p.Found, p.Row = true, json.RawMessage(row)
	return p, nil
}

// probeSQL returns the query of Probe and its arguments.
func probeSQL(tb *table, c *apply.Change, column string) (string, []any, error) {
	var args []any
	arg := func(i int, raw json.RawMessage) error {
		v, err := convert(&tb.cols[i], raw)
		if err != nil {
			return fmt.Errorf("column %s: %w", tb.cols[i].name, err)
		}
		args = append(args, v)
		return nil
	}
	var where []string
	for _, k := range tb.Key {
		raw, err := c.ProbeKey(tb.cols[k].name)
		if err != nil {
			return "", nil, err
		}
		if err := arg(k, raw); err != nil {
			return "", nil, err
		}
		where = append(where, "t."+tb.cols[k].ident+" = ?")
	}
	if len(where) == 0 {
		return "", nil, errors.New("a two-way scope's table needs a primary key")
	}
	whereArgs := args
	args = nil
	same := func(values map[string]json.RawMessage, skip []string) (string, error) {
		var parts []string
		for i := range tb.cols {
			raw, ok := values[tb.cols[i].name]
			if !ok || slices.Contains(skip, tb.cols[i].name) {
				continue
			}
			if err := arg(i, raw); err != nil {
				return "", err
			}
			parts = append(parts, "t."+tb.cols[i].ident+" <=> ?")
		}
		if len(parts) == 0 {
			return "TRUE", nil
		}
		return "(" + strings.Join(parts, " AND ") + ")", nil
	}
	base, err := same(c.Before, nil)
	if err != nil {
		return "", nil, err
	}
	newer := "FALSE"
	if c.After != nil {
		if newer, err = same(c.After, c.Unchanged); err != nil {
			return "", nil, err
		}
	}
	cmp := "0"
	if i, ok := tb.Index[column]; column != "" && ok {
		if raw, ok := c.After[column]; ok {
			if err := arg(i, raw); err != nil {
				return "", nil, err
			}
			if err := arg(i, raw); err != nil {
				return "", nil, err
			}
			id := tb.cols[i].ident
			cmp = "CASE WHEN ? > t." + id + " THEN 1 WHEN ? < t." + id + " THEN -1 ELSE 0 END"
		}
	}
	obj := make([]string, len(tb.cols))
	for i, col := range tb.cols {
		obj[i] = quoteString(col.name) + ", t." + col.ident
	}
	q := fmt.Sprintf("SELECT JSON_OBJECT(%s), %s, %s, %s FROM %s AS t WHERE %s FOR UPDATE",
		strings.Join(obj, ", "), base, newer, cmp, tb.ident, strings.Join(where, " AND "))
	return q, append(args, whereArgs...), nil
}

var _ apply.BatchProber = (*tx)(nil)

// maxProbeArgs bounds the placeholders of one ProbeAll query, under the
// server's 65,535.
const maxProbeArgs = 30_000

// ProbeAll implements apply.BatchProber: after sending what is queued,
// one query reads the rows of many changes, the UNION ALL of each
// change's Probe query (each a locking read, in parentheses) tagged with
// the change's index (sqltx.Tx.ProbeUnion).
func (x *tx) ProbeAll(ctx context.Context, cs []*apply.Change, columns []string) ([]apply.Probe, error) {
	return x.ProbeUnion(ctx, len(cs), maxProbeArgs, func(i, _ int) (string, []any, error) {
		c := cs[i]
		tb, _, ok := x.t.tables.Table(c.Table.Target)
		if !ok {
			return "", nil, fmt.Errorf("table %s was not prepared at target %s", c.Table.Target, x.t.cfg.Name)
		}
		q, args, err := probeSQL(tb, c, columns[i])
		if err != nil {
			return "", nil, apply.Reject(err, c, refused)
		}
		return fmt.Sprintf("(SELECT %d, %s)", i, strings.TrimPrefix(q, "SELECT ")), args, nil
	})
}
