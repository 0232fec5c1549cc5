package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/syncd-dev/syncd/apply"
)

// A ProbeDialect is how a target engine's SQL writes the comparisons of
// a two-way scope's probe query (apply.Prober), which reads the target's
// row of a change's key, named t in the query, and compares it with the
// change's old and new rows. ProbeDialect.Probe writes them; the engine
// writes the rest of the query around them (the row as JSON, locking).
type ProbeDialect struct {
	// Param returns the placeholder of the query's argument n (from 1).
	Param func(n int) string
	// Positional: a placeholder stands for the next argument whatever
	// Param wrote (MySQL's ?), so a value compared twice is sent twice.
	Positional bool
	// NullSafe is the operator by which a column equals a value, a NULL
	// equalling only NULL. Without one (SQL Server before 2022), a NULL
	// value is compared as "col IS NULL" and any other with "=", which a
	// NULL in the row fails.
	NullSafe string
	// Committed, if set, returns how the commit time of the last change
	// of t compares with p, the placeholder of the change's (newer_wins),
	// as Probe's Newer does; nil if the engine keeps no commit time per
	// row.
	Committed func(p string) string
}

// The probe dialects of the target engines.
var (
	// PostgresProbe: IS NOT DISTINCT FROM, $n placeholders, and the
	// commit time of the row's transaction, NULL for rows written before
	// track_commit_timestamp was on, or frozen (a row without one is
	// older), the origin's if syncd applied it (apply.Tx.Commit).
	PostgresProbe = &ProbeDialect{
		Param:    func(n int) string { return fmt.Sprintf("$%d", n) },
		NullSafe: "IS NOT DISTINCT FROM",
		Committed: func(p string) string {
			const ts = "pg_catalog.pg_xact_commit_timestamp(t.xmin)"
			p += "::timestamptz"
			return "CASE WHEN " + ts + " IS NULL OR " + p + " > " + ts + " THEN 1 WHEN " + p + " < " + ts + " THEN -1 ELSE 0 END"
		},
	}
	// MySQLProbe: the NULL-safe <=> and ? placeholders.
	MySQLProbe = &ProbeDialect{
		Param:      func(int) string { return "?" },
		Positional: true,
		NullSafe:   "<=>",
	}
	// SQLServerProbe: = and IS NULL (IS NOT DISTINCT FROM needs SQL
	// Server 2022), @pN placeholders.
	SQLServerProbe = &ProbeDialect{
		Param: func(n int) string { return fmt.Sprintf("@p%d", n) },
	}
)

// ProbeTable is what ProbeDialect.Probe reads of an engine's prepared
// table.
type ProbeTable interface {
	Planned() *Table
	// ProbeValue converts raw, a wire value of the column at position i,
	// to the argument sent for it.
	ProbeValue(i int, raw json.RawMessage) (any, error)
	// ProbeOperands returns the column at position i of t and p, a
	// placeholder of a value of the column, as the query compares them:
	// for equality with the dialect's NullSafe operator (eq), or else
	// with =, > and < (the key and the policy column); with p "", the
	// column alone (compared IS NULL). It fails for a column that cannot
	// be compared.
	ProbeOperands(i int, p string, eq bool) (col, param string, err error)
}

// ProbeQuery holds the comparisons of a probe query, on the columns of
// t, and their arguments, in the order of the placeholders: Base's,
// New's, Newer's and Key's.
type ProbeQuery struct {
	Base  string // t equals the old row on the columns it holds (true without any)
	New   string // t equals the new row on the columns it writes, not Unchanged (false without one)
	Newer string // 1, -1 or 0, as apply.Probe's Newer
	Key   string // t is the row of the change's key
	Args  []any
}

// Probe writes the comparisons of the probe of c with the policy column
// column ("" for none, or newer_wins when c.Committed is set), numbering
// the placeholders after the first before. It fails for a table without
// a key, and for a key or a value that the table cannot hold or compare.
func (d *ProbeDialect) Probe(tb ProbeTable, c *apply.Change, column string, before int) (ProbeQuery, error) {
	pt := tb.Planned()
	if len(pt.Key) == 0 {
		return ProbeQuery{}, errors.New("a two-way scope's table needs a primary key")
	}
	keys := make([]json.RawMessage, len(pt.Key))
	for j, k := range pt.Key {
		var err error
		if keys[j], err = c.ProbeKey(pt.Names[k]); err != nil {
			return ProbeQuery{}, err
		}
	}
	var q ProbeQuery
	// operands returns the column at position i and raw, added to the
	// arguments, as the query compares them.
	operands := func(i int, raw json.RawMessage, eq bool) (string, string, error) {
		v, err := tb.ProbeValue(i, raw)
		if err != nil {
			return "", "", fmt.Errorf("column %s: %w", pt.Names[i], err)
		}
		q.Args = append(q.Args, v)
		return tb.ProbeOperands(i, d.Param(before+len(q.Args)), eq)
	}
	// same returns the condition that t equals values on the columns it
	// holds but those of skip: true where there are none.
	same := func(values map[string]json.RawMessage, skip []string) (string, error) {
		var parts []string
		for i, name := range pt.Names {
			raw, ok := values[name]
			if !ok || slices.Contains(skip, name) {
				continue
			}
			op := d.NullSafe
			if op == "" && isNull(raw) {
				col, _, err := tb.ProbeOperands(i, "", true)
				if err != nil {
					return "", err
				}
				parts = append(parts, col+" IS NULL")
				continue
			} else if op == "" {
				op = "=" // the value is not NULL: a NULL in the row is unequal
			}
			col, p, err := operands(i, raw, true)
			if err != nil {
				return "", err
			}
			parts = append(parts, col+" "+op+" "+p)
		}
		if len(parts) == 0 {
			return "1 = 1", nil
		}
		return "(" + strings.Join(parts, " AND ") + ")", nil
	}
	var err error
	if q.Base, err = same(c.Before, nil); err != nil {
		return ProbeQuery{}, err
	}
	q.New = "1 = 0"
	if c.After != nil {
		if q.New, err = same(c.After, c.Unchanged); err != nil {
			return ProbeQuery{}, err
		}
	}
	// Newer: a NULL, or a column the change leaves out, compares as equal.
	q.Newer = "0"
	if i, ok := pt.Index[column]; column != "" && ok {
		if raw, ok := c.After[column]; ok && !isNull(raw) {
			col, p, err := operands(i, raw, false)
			p2 := p
			if err == nil && d.Positional {
				_, p2, err = operands(i, raw, false)
			}
			if err != nil {
				return ProbeQuery{}, err
			}
			q.Newer = "CASE WHEN " + p + " > " + col + " THEN 1 WHEN " + p2 + " < " + col + " THEN -1 ELSE 0 END"
		}
	} else if column == "" && !c.Committed.IsZero() && d.Committed != nil {
		q.Args = append(q.Args, c.Committed)
		q.Newer = d.Committed(d.Param(before + len(q.Args)))
	}
	where := make([]string, len(pt.Key))
	for j, k := range pt.Key {
		col, p, err := operands(k, keys[j], false)
		if err != nil {
			return ProbeQuery{}, err
		}
		where[j] = col + " = " + p
	}
	q.Key = strings.Join(where, " AND ")
	return q, nil
}

// isNull reports whether raw is a JSON null.
func isNull(raw json.RawMessage) bool {
	return raw == nil || string(raw) == "null"
}
