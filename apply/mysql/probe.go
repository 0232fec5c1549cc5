package mysql

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
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

// probeSQL returns the query of Probe and its arguments
// (plan.MySQLProbe).
func probeSQL(tb *table, c *apply.Change, column string) (string, []any, error) {
	p, err := plan.MySQLProbe.Probe(tb, c, column, 0)
	if err != nil {
		return "", nil, err
	}
	obj := make([]string, len(tb.cols))
	for i, col := range tb.cols {
		obj[i] = quoteString(col.name) + ", t." + col.ident
	}
	q := fmt.Sprintf("SELECT JSON_OBJECT(%s), %s, %s, %s FROM %s AS t WHERE %s FOR UPDATE",
		strings.Join(obj, ", "), p.Base, p.New, p.Newer, tb.ident, p.Key)
	return q, p.Args, nil
}

// ProbeValue implements plan.ProbeTable.
func (tb *table) ProbeValue(i int, raw json.RawMessage) (any, error) {
	return convert(&tb.cols[i], raw)
}

// ProbeOperands implements plan.ProbeTable: strings compare under the
// column's collation.
func (tb *table) ProbeOperands(i int, p string, _ bool) (string, string, error) {
	return "t." + tb.cols[i].ident, p, nil
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
