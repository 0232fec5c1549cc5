package torture

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/router"
)

// model is what a subscriber that applies a scope's messages to its own
// store holds: per source table, rows by key, each a column → value map.
// Values are kept as text (large text values as their md5), so that they
// compare with the source's rows cast to text.
type model struct {
	tables map[string]map[string]map[string]*string
	// last describes the last message that wrote each row, for reports.
	last map[string]map[string]string
}

func newModel() *model {
	return &model{tables: map[string]map[string]map[string]*string{}, last: map[string]map[string]string{}}
}

// keyColumn is the primary key of every table of the workload.
const keyColumn = "id"

// apply applies one change as the wire format describes it: c, r and u
// upsert the columns they carry (unchanged columns keep their value), a u
// whose before image has another key moves the row, d deletes by key, t
// empties the table, e (the end of a copy) changes nothing.
func (m *model) apply(seq uint64, env *router.Envelope) error {
	rows, last := m.tables[env.Source.Table], m.last[env.Source.Table]
	if rows == nil {
		rows, last = map[string]map[string]*string{}, map[string]string{}
		m.tables[env.Source.Table], m.last[env.Source.Table] = rows, last
	}
	switch env.Op {
	case "t":
		clear(rows)
		clear(last)
	case "d":
		k, ok := keyOf(env.Key, env.Before)
		if !ok {
			return fmt.Errorf("delete from %s without a key", env.Source.Table)
		}
		delete(rows, k)
		delete(last, k)
	case "c", "r", "u":
		k, ok := keyOf(env.After, env.Key)
		if !ok {
			return fmt.Errorf("%s on %s without a key", env.Op, env.Source.Table)
		}
		row := rows[k]
		if old, ok := keyOf(env.Before, nil); ok && old != k {
			row = rows[old]
			delete(rows, old)
		}
		next := map[string]*string{}
		for c, v := range row {
			next[c] = v
		}
		unchanged := map[string]bool{}
		for _, c := range env.Unchanged {
			unchanged[c] = true
		}
		for c, v := range env.After {
			if !unchanged[c] {
				next[c] = text(c, v)
			}
		}
		rows[k] = next
		last[k] = fmt.Sprintf("stream message %d: op %s, reason %s, unchanged %v, before %v", seq, env.Op, env.Scope.Reason, env.Unchanged, env.Before != nil)
	case "e":
		// The end of a table's copy that sent no row in its last
		// snapshot transaction: it changes no row (docs/wire-format.md).
	default:
		return fmt.Errorf("unknown op %q", env.Op)
	}
	return nil
}

// keyOf returns the key column's value from the first row that has it.
func keyOf(rows ...map[string]any) (string, bool) {
	for _, r := range rows {
		if v, ok := r[keyColumn]; ok && v != nil {
			return *text(keyColumn, v), true
		}
	}
	return "", false
}

// text is a wire value as PostgreSQL's text form of the column, nil for
// NULL; the body column as the md5 of its text, as the checks query it.
func text(column string, v any) *string {
	var s string
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		s = v
	case json.Number:
		s = v.String()
	case bool:
		s = map[bool]string{true: "t", false: "f"}[v]
	default:
		b, _ := json.Marshal(v)
		s = string(b)
	}
	if column == "body" {
		sum := md5.Sum([]byte(s))
		s = hex.EncodeToString(sum[:])
	}
	return &s
}

// modelCheck is one table of one scope as the subscriber's model must
// hold it: the source's rows matching where, with the scope's columns.
type modelCheck struct {
	scope, table string
	columns      []string
	where        string
}

var modelChecks = []modelCheck{
	{"full", "account", []string{"id", "region", "balance", "name", "note"}, ""},
	{"full", "doc", []string{"id", "title", "body"}, ""},
	{"full", "ledger", []string{"id", "acct", "amount", "memo"}, ""},
	{"full", "txlog", []string{"id", "worker", "ops"}, ""},
	{"eu", "account", []string{"id", "region", "balance"}, "region = 'eu'"},
	{"eu", "ledger", []string{"id", "acct", "amount", "memo"}, "amount > 0"},
	{"rich", "account", []string{"id", "name", "balance"}, "balance >= 1000 AND region IN ('eu', 'us')"},
	{"rich", "doc", []string{"id", "title", "body"}, "title LIKE 'b%'"},
}

// compareModel compares a model's table with the source's rows.
func compareModel(dsn string, m *model, mc modelCheck) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	cols := make([]string, len(mc.columns))
	for i, c := range mc.columns {
		cols[i] = c + "::text"
		if c == "body" {
			cols[i] = "md5(body)"
		}
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + mc.table
	if mc.where != "" {
		q += " WHERE " + mc.where
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	want := map[string][]*string{}
	for rows.Next() {
		vals := make([]*string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		want[*vals[0]] = vals
	}
	if err := rows.Err(); err != nil {
		return err
	}
	got := m.tables[mc.table]
	var diffs []string
	n := 0
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("row %s missing (source %s)", k, show(w)))
		default:
			gv := make([]*string, len(mc.columns))
			for i, c := range mc.columns {
				gv[i] = g[c]
			}
			if len(g) != len(mc.columns) || show(gv) != show(w) {
				diffs = append(diffs, fmt.Sprintf("row %s: subscriber %v (%s), source %s", k, showRow(g), m.last[mc.table][k], show(w)))
			}
		}
		n++
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("row %s not at the source (subscriber %v)", k, showRow(g)))
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		return fmt.Errorf("%d of %d rows differ:\n  %s", len(diffs), n, strings.Join(diffs[:min(len(diffs), 10)], "\n  "))
	}
	return nil
}

func show(vals []*string) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = "NULL"
		if v != nil {
			parts[i] = *v
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func showRow(r map[string]*string) string {
	parts := make([]string, 0, len(r))
	for _, c := range slices.Sorted(maps.Keys(r)) {
		v := "NULL"
		if r[c] != nil {
			v = *r[c]
		}
		parts = append(parts, c+"="+v)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
