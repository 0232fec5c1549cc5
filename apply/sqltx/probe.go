package sqltx

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply"
)

// ProbeUnion reads the probes of n changes for an engine's
// apply.BatchProber: the UNION ALL of each change's locking read, as many
// in one query as hold at most maxArgs parameters. part returns change
// i's read, whose columns are i, the row as JSON and the Probe's Base,
// New and Newer, with its parameters numbered after the first before
// (engines with positional placeholders ignore before); a change with no
// row returns nothing. An error of part is returned as it is (an engine
// rejects the change with apply.Reject); a query's ends the transaction,
// as Query's do.
func (x *Tx[T]) ProbeUnion(ctx context.Context, n, maxArgs int, part func(i, before int) (string, []any, error)) ([]apply.Probe, error) {
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
