package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncd-dev/syncd/apply"
)

var _ apply.Prober = (*tx)(nil)

// Probe implements apply.Prober: after sending what is queued, one query
// compares the row of c's key with c's old and new rows, column by column
// with IS NOT DISTINCT FROM on the column's type (as text for types
// without "="), and returns it as jsonb.
func (x *tx) Probe(ctx context.Context, c *apply.Change, column string) (apply.Probe, error) {
	if x.done {
		return apply.Probe{}, apply.ErrTxDone
	}
	tb, _, ok := x.t.tables.Table(c.Table.Target)
	if !ok {
		return apply.Probe{}, fmt.Errorf("table %s was not prepared at target %s", c.Table.Target, x.t.cfg.Name)
	}
	q, args, err := x.probeSQL(tb, c, column)
	if err != nil {
		return apply.Probe{}, apply.Reject(err, c, refused)
	}
	x.takeGroup()
	if _, err := x.send(ctx); err != nil {
		return apply.Probe{}, x.fail(ctx, err)
	}
	if !x.begun {
		if _, err := x.conn.Exec(ctx, "BEGIN"); err != nil {
			return apply.Probe{}, x.fail(ctx, fmt.Errorf("BEGIN: %w", err))
		}
		x.begun = true
	}
	p := apply.Probe{Found: true}
	var row string
	err = x.conn.QueryRow(ctx, q, args...).Scan(&row, &p.Base, &p.New, &p.Newer)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return apply.Probe{}, nil
	case err != nil && !c.Committed.IsZero() && isCode(err, "55000"):
		return apply.Probe{}, x.fail(ctx, fmt.Errorf("read the commit time of the row of %s at %s (conflicts = \"newer_wins\" needs track_commit_timestamp = on at target %s, which takes a server restart): %w", describeKey(c), c.Table.Target, x.t.cfg.Name, err))
	case err != nil:
		return apply.Probe{}, x.fail(ctx, fmt.Errorf("read the row of %s at %s: %w", describeKey(c), c.Table.Target, err))
	}
	p.Row = json.RawMessage(row)
	return p, nil
}

// probeSQL returns the query of Probe and its arguments: the key's
// values, then the old row's, the new row's and the new value of column,
// or c.Committed.
func (x *tx) probeSQL(tb *table, c *apply.Change, column string) (string, []any, error) {
	var args []any
	arg := func(i int, raw json.RawMessage) (string, error) {
		col := &tb.cols[i]
		data, null, err := x.cv.appendValue(nil, col.kind, col.elem, col.delim, raw)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", col.name, err)
		}
		if null {
			args = append(args, nil)
		} else {
			args = append(args, string(data))
		}
		return fmt.Sprintf("$%d::%s", len(args), col.typ), nil
	}
	// same compares the row with values: true where values is nil.
	same := func(values map[string]json.RawMessage, skip []string) (string, error) {
		var parts []string
		for i := range tb.cols {
			col := &tb.cols[i]
			raw, ok := values[col.name]
			if !ok || slices.Contains(skip, col.name) {
				continue
			}
			p, err := arg(i, raw)
			if err != nil {
				return "", err
			}
			if col.textEq {
				parts = append(parts, fmt.Sprintf("t.%s::text IS NOT DISTINCT FROM %s::text", col.ident, p))
			} else {
				parts = append(parts, fmt.Sprintf("t.%s IS NOT DISTINCT FROM %s", col.ident, p))
			}
		}
		if len(parts) == 0 {
			return "true", nil
		}
		return "(" + strings.Join(parts, " AND ") + ")", nil
	}
	var where []string
	for _, k := range tb.Key {
		raw, err := c.ProbeKey(tb.cols[k].name)
		if err != nil {
			return "", nil, err
		}
		p, err := arg(k, raw)
		if err != nil {
			return "", nil, err
		}
		where = append(where, fmt.Sprintf("t.%s = %s", tb.cols[k].ident, p))
	}
	if len(where) == 0 {
		return "", nil, errors.New("a two-way scope's table needs a primary key")
	}
	base, err := same(c.Before, nil)
	if err != nil {
		return "", nil, err
	}
	newer := "false"
	if c.After != nil {
		if newer, err = same(c.After, c.Unchanged); err != nil {
			return "", nil, err
		}
	}
	cmp := "0"
	if i, ok := tb.Index[column]; column != "" && ok {
		if raw, ok := c.After[column]; ok {
			p, err := arg(i, raw)
			if err != nil {
				return "", nil, err
			}
			cmp = fmt.Sprintf("CASE WHEN %[1]s > t.%[2]s THEN 1 WHEN %[1]s < t.%[2]s THEN -1 ELSE 0 END", p, tb.cols[i].ident)
		}
	} else if column == "" && !c.Committed.IsZero() {
		// newer_wins: the commit time of the transaction that wrote the
		// row (its origin's, if syncd applied it: tx.Commit), NULL for
		// rows written before track_commit_timestamp was on, or frozen.
		args = append(args, c.Committed)
		cmp = fmt.Sprintf("CASE WHEN pg_catalog.pg_xact_commit_timestamp(t.xmin) IS NULL OR $%[1]d::timestamptz > pg_catalog.pg_xact_commit_timestamp(t.xmin) THEN 1 "+
			"WHEN $%[1]d::timestamptz < pg_catalog.pg_xact_commit_timestamp(t.xmin) THEN -1 ELSE 0 END", len(args))
	}
	q := fmt.Sprintf("SELECT to_jsonb(t)::text, %s, %s, %s FROM %s AS t WHERE %s FOR UPDATE",
		base, newer, cmp, tb.ident, strings.Join(where, " AND "))
	return q, args, nil
}

// describeKey names c's key for messages.
func describeKey(c *apply.Change) string {
	b, _ := json.Marshal(c.Key)
	return "key " + string(b)
}

// isCode reports whether err is a server error of SQLSTATE code.
func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
