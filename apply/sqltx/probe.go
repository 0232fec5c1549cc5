package sqltx

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply"
)

var (
	_ apply.Prober      = (*Tx[int])(nil)
	_ apply.BatchProber = (*Tx[int])(nil)
)

// Probe implements apply.Prober: ProbeAll of c alone.
func (x *Tx[T]) Probe(ctx context.Context, c *apply.Change, column string) (apply.Probe, error) {
	ps, err := x.ProbeAll(ctx, []*apply.Change{c}, []string{column})
	if err != nil {
		return apply.Probe{}, err
	}
	return ps[0], nil
}

// ProbeAll implements apply.BatchProber: after sending what is queued,
// it reads the rows of cs by the UNION ALL of each change's query
// (Config.ProbeSQL), each a locking read tagged with the change's index,
// as many in one query as hold at most Config.MaxProbeArgs parameters.
// An error of ProbeSQL rejects its change where Config.Refused says
// (apply.Reject); a query's ends the transaction, as Query's do.
func (x *Tx[T]) ProbeAll(ctx context.Context, cs []*apply.Change, columns []string) ([]apply.Probe, error) {
	n, maxArgs := len(cs), x.cfg.MaxProbeArgs
	part := func(i, before int) (string, []any, error) {
		q, args, err := x.cfg.ProbeSQL(cs[i], columns[i], i, before)
		return q, args, apply.Reject(err, cs[i], x.cfg.Refused)
	}
	ps := make([]apply.Probe, n)
	var (
		parts []string
		args  []any
	)
	run := func() error {
		if len(parts) == 0 {
			return nil
		}
		err := x.Query(ctx, strings.Join(parts, "\nUNION ALL\n"), args, func(rows *sql.Rows) error {
			var (
				i   int
				row []byte
				p   = apply.Probe{Found: true}
			)
			if err := rows.Scan(&i, &row, &p.Base, &p.New, &p.Newer); err != nil {
				return err
			}
			if i < 0 || i >= n {
				return fmt.Errorf("probe index %d out of range", i)
			}
			p.Row = json.RawMessage(row)
			ps[i] = p
			return nil
		})
		if err != nil {
			return fmt.Errorf("read the rows of %d changes: %w", len(parts), err)
		}
		parts, args = parts[:0], nil
		return nil
	}
	for i := range n {
		q, qargs, err := part(i, len(args))
		if err != nil {
			return nil, err
		}
		if len(args) > 0 && len(args)+len(qargs) > maxArgs {
			if err := run(); err != nil {
				return nil, err
			}
			if q, qargs, err = part(i, 0); err != nil {
				return nil, err
			}
		}
		parts = append(parts, q)
		args = append(args, qargs...)
	}
	if err := run(); err != nil {
		return nil, err
	}
	return ps, nil
}
