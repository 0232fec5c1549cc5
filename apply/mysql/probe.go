package mysql

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
)

// The two-way probe (apply.Prober, apply.BatchProber) is sqltx.Tx's,
// whose UNION ALL of probeSQL's queries (each a locking read, in
// parentheses) compares the row of each change's key with the change's
// old and new rows, column by column with the NULL-safe <=> (under each
// column's collation), and returns it as a JSON object.

// maxProbeArgs bounds the placeholders of one ProbeAll query, under the
// server's 65,535.
const maxProbeArgs = 30_000

// probeSQL returns the probe query of c (sqltx.Config.ProbeSQL,
// plan.MySQLProbe).
func (t *Target) probeSQL(c *apply.Change, column string, index, _ int) (string, []any, error) {
	tb, _, ok := t.tables.Table(c.Table.Target)
	if !ok {
		return "", nil, fmt.Errorf("table %s was not prepared at target %s", c.Table.Target, t.cfg.Name)
	}
	p, err := plan.MySQLProbe.Probe(tb, c, column, 0)
	if err != nil {
		return "", nil, err
	}
	obj := make([]string, len(tb.cols))
	for i, col := range tb.cols {
		obj[i] = quoteString(col.name) + ", t." + col.ident
	}
	q := fmt.Sprintf("(SELECT %d, JSON_OBJECT(%s), %s, %s, %s FROM %s AS t WHERE %s FOR UPDATE)",
		index, strings.Join(obj, ", "), p.Base, p.New, p.Newer, tb.ident, p.Key)
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
