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
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/capture"
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

// probeSQL returns the query of Probe and its arguments
// (plan.PostgresProbe): the old row's values, the new row's, the new
// value of column or c.Committed, and the key's.
func (x *tx) probeSQL(tb *table, c *apply.Change, column string) (string, []any, error) {
	p, err := plan.PostgresProbe.Probe(probeTable{tb, &x.cv}, c, column, 0)
	if err != nil {
		return "", nil, err
	}
	q := fmt.Sprintf("SELECT to_jsonb(t)::text, %s, %s, %s FROM %s AS t WHERE %s FOR UPDATE",
		p.Base, p.New, p.Newer, tb.ident, p.Key)
	return q, p.Args, nil
}

// probeTable is a table as plan.ProbeDialect.Probe reads it.
type probeTable struct {
	*table
	cv *converter
}

// ProbeValue implements plan.ProbeTable: the text the column's type
// reads, cast in the query (ProbeOperands), or nil for NULL.
func (t probeTable) ProbeValue(i int, raw json.RawMessage) (any, error) {
	col := &t.cols[i]
	data, null, err := t.cv.appendValue(nil, col.kind, col.elem, col.delim, raw)
	if err != nil || null {
		return nil, err
	}
	return string(data), nil
}

// ProbeOperands implements plan.ProbeTable: p cast to the column's type,
// both as text for a type without "=" compared for equality.
func (t probeTable) ProbeOperands(i int, p string, eq bool) (string, string, error) {
	col := &t.cols[i]
	if eq && col.textEq {
		return "t." + col.ident + "::text", p + "::" + col.typ + "::text", nil
	}
	return "t." + col.ident, p + "::" + col.typ, nil
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

var _ apply.PipeProber = (*tx)(nil)

// ProbeAll implements apply.BatchProber: SendProbe, then its result.
func (x *tx) ProbeAll(ctx context.Context, cs []*apply.Change, columns []string) ([]apply.Probe, error) {
	read, err := x.SendProbe(ctx, cs, columns)
	if err != nil {
		return nil, err
	}
	return read()
}

// sentProbe is the probe queries of a round trip (roundTrip.probe), one
// per table and policy column, and what they read.
type sentProbe struct {
	qs   []probeQuery
	ins  []probeInsert
	ps   []apply.Probe
	cs   []*apply.Change
	kept []int // the changes of ins whose key was there, not probed yet
	read bool  // finish read the queries' results
}

// probeInsert is an insert of SendProbeInserts, sent after the probe's
// queries: the inserts of tb among the changes, each where its key is
// not in the table (ON CONFLICT DO NOTHING), returning the index of each
// change it did not write.
type probeInsert struct {
	sql  string
	args []any
	tb   *table
	n    int
}

// probeQuery is a query of ProbeAll and the changes it reads.
type probeQuery struct {
	sql  string
	args []any
	tb   *table
	n    int // changes
}

// SendProbe implements apply.PipeProber: one query per table (and policy
// column) joins the changes' keys, old rows and new rows, passed as
// arrays, to the table's rows, locking them, and compares each column as
// Probe does. The queries follow what is queued in one round trip, sent
// ahead as a full queue is (sendAhead), whose results the transaction's
// next call or read reads.
func (x *tx) SendProbe(ctx context.Context, cs []*apply.Change, columns []string) (func() ([]apply.Probe, error), error) {
	return x.sendProbe(ctx, cs, columns, false)
}

var _ apply.InsertProber = (*tx)(nil)

// SendProbeInserts implements apply.InsertProber: SendProbe of the
// changes of cs but the inserts probeInserts takes, which go, in the
// same round trip, as an INSERT ... ON CONFLICT DO NOTHING per table and
// set of columns; read probes those it did not write (ProbeAll).
func (x *tx) SendProbeInserts(ctx context.Context, cs []*apply.Change, columns []string) (func() ([]apply.Probe, error), error) {
	return x.sendProbe(ctx, cs, columns, true)
}

// sendProbe is SendProbe, and SendProbeInserts if inserts.
func (x *tx) sendProbe(ctx context.Context, cs []*apply.Change, columns []string, inserts bool) (func() ([]apply.Probe, error), error) {
	if x.done {
		return nil, apply.ErrTxDone
	}
	type group struct {
		tb     *table
		column string
		idx    []int
	}
	var (
		ins     []probeInsert
		written []bool // cs[i] goes in ins
	)
	if inserts {
		ins, written = x.probeInserts(cs)
	}
	var groups []*group
	for i, c := range cs {
		if written != nil && written[i] {
			continue
		}
		tb, _, ok := x.t.tables.Table(c.Table.Target)
		if !ok {
			return nil, x.fail(ctx, fmt.Errorf("table %s was not prepared at target %s", c.Table.Target, x.t.cfg.Name))
		}
		j := slices.IndexFunc(groups, func(g *group) bool { return g.tb == tb && g.column == columns[i] })
		if j < 0 {
			j = len(groups)
			groups = append(groups, &group{tb: tb, column: columns[i]})
		}
		groups[j].idx = append(groups[j].idx, i)
	}
	sp := &sentProbe{qs: make([]probeQuery, len(groups)), ps: make([]apply.Probe, len(cs)), cs: cs}
	for j, g := range groups {
		var err error
		if sp.qs[j].sql, sp.qs[j].args, err = x.probeAllSQL(g.tb, cs, g.idx, g.column); err != nil {
			return nil, x.fail(ctx, err)
		}
		sp.qs[j].tb, sp.qs[j].n = g.tb, len(g.idx)
	}
	sp.ins = ins
	x.takeGroup()
	if err := x.finishAhead(); err != nil {
		return nil, x.fail(ctx, err)
	}
	// A COPY cannot go in the round trip (send runs it alone); an
	// update's row count is checked as its result is read (finish).
	if slices.ContainsFunc(x.queue, func(q queued) bool { return q.op == opCopy }) {
		if _, err := x.send(ctx); err != nil {
			return nil, x.fail(ctx, err)
		}
	}
	qs := x.queue
	x.queue, x.spare = x.spare, nil
	x.clearQueue()
	x.ahead = x.start(ctx, qs, sp)
	return func() ([]apply.Probe, error) {
		if x.ahead != nil && x.ahead.probe == sp {
			if err := x.finishAhead(); err != nil {
				return nil, x.fail(ctx, err)
			}
		}
		if !sp.read {
			return nil, apply.ErrTxDone
		}
		if len(sp.kept) == 0 {
			return sp.ps, nil
		}
		// The inserts whose key was there: probed now, as SendProbe
		// probes them; the part's other changes touch other keys, so
		// the probe reads the rows as they were before the part.
		sub := make([]*apply.Change, len(sp.kept))
		cols := make([]string, len(sp.kept))
		for j, i := range sp.kept {
			sub[j], cols[j] = cs[i], columns[i]
		}
		ps, err := x.ProbeAll(ctx, sub, cols)
		if err != nil {
			return nil, err
		}
		for j, i := range sp.kept {
			sp.ps[i] = ps[j]
		}
		sp.kept = nil
		return sp.ps, nil
	}, nil
}

// readProbe reads the results of the queries of sp, sent in res.
func (x *tx) readProbe(res pgx.BatchResults, sp *sentProbe) error {
	for _, q := range sp.qs {
		rows, _ := res.Query()
		for rows.Next() {
			var (
				i   int32
				row string
				p   = apply.Probe{Found: true}
			)
			if err := rows.Scan(&i, &row, &p.Base, &p.New, &p.Newer); err != nil {
				rows.Close()
				return fmt.Errorf("read the rows of %d changes at %s: %w", q.n, q.tb.ID, err)
			}
			if i < 0 || int(i) >= len(sp.ps) {
				rows.Close()
				return fmt.Errorf("read the rows of %d changes at %s: probe index %d out of range", q.n, q.tb.ID, i)
			}
			p.Row = json.RawMessage(row)
			sp.ps[i] = p
		}
		if err := rows.Err(); err != nil && isCode(err, "55000") {
			return fmt.Errorf("read the commit times of the rows of %d changes at %s (conflicts = \"newer_wins\" needs track_commit_timestamp = on at target %s, which takes a server restart): %w", q.n, q.tb.ID, x.t.cfg.Name, err)
		} else if err != nil {
			return fmt.Errorf("read the rows of %d changes at %s: %w", q.n, q.tb.ID, err)
		}
	}
	for _, q := range sp.ins {
		what := plan.Describe(plan.Insert, q.n, q.tb.ID.String())
		rows, _ := res.Query()
		there := map[int32]bool{} // not written: the key was there
		for rows.Next() {
			var i int32
			if err := rows.Scan(&i); err != nil {
				rows.Close()
				return fmt.Errorf("%s: %w", what, err)
			}
			there[i] = true
		}
		if err := rows.Err(); err != nil {
			return apply.Reject(fmt.Errorf("%s: %w", what, err), nil, refused)
		}
		for _, i := range q.args[0].([]int32) {
			if there[i] {
				sp.kept = append(sp.kept, int(i))
				continue
			}
			sp.ps[i].Written = true
			if c := sp.cs[i]; c.Committed.After(x.stamp) {
				x.stamp = c.Committed
			}
		}
	}
	sp.read = true
	return nil
}

// probeInserts returns the inserts SendProbeInserts sends instead of
// probing them, one per table and set of columns, and which changes of
// cs they write: each change of cs that is an insert (op c or r, no old
// row, no unchanged values) of a table with a key, whose new row's
// columns and values the table takes. Other changes are probed, and
// applied as usual.
//
// Each is WITH v AS (unnest of the changes' indexes and values), ins AS
// (INSERT ... SELECT FROM v ON CONFLICT DO NOTHING RETURNING the key)
// SELECT the index of each row of v that ins did not write: an insert
// the target refused because its key was there (or another unique
// key's), for the caller to probe.
func (x *tx) probeInserts(cs []*apply.Change) ([]probeInsert, []bool) {
	var (
		out     []probeInsert
		written []bool
		cols    []int
	)
	type shape struct {
		tb   *table
		cols string
	}
	at := map[shape]int{}
	for i, c := range cs {
		if (c.Op != capture.OpInsert && c.Op != capture.OpRead) || c.Before != nil || c.After == nil || len(c.Unchanged) > 0 {
			continue
		}
		tb, _, ok := x.t.tables.Table(c.Table.Target)
		if !ok || len(tb.Key) == 0 {
			continue
		}
		cols = cols[:0]
		for j := range tb.cols {
			if _, ok := c.After[tb.cols[j].name]; ok {
				cols = append(cols, j)
			}
		}
		if len(cols) != len(c.After) || slices.ContainsFunc(tb.Key, func(k int) bool { return !slices.Contains(cols, k) }) {
			continue
		}
		vs := make([]pgtype.Text, len(cols))
		ok = true
		for j, k := range cols {
			col := &tb.cols[k]
			data, null, err := x.cv.appendValue(nil, col.kind, col.elem, col.delim, c.After[col.name])
			if err != nil {
				ok = false
				break
			}
			vs[j] = pgtype.Text{String: string(data), Valid: !null}
		}
		if !ok {
			continue
		}
		key := shape{tb, string(plan.ShapeKey(plan.Insert, cols))}
		n, seen := at[key]
		if !seen {
			n = len(out)
			at[key] = n
			args := []any{[]int32{}}
			for range cols {
				args = append(args, []pgtype.Text{})
			}
			out = append(out, probeInsert{sql: insertKeptSQL(tb, cols), args: args, tb: tb})
		}
		if written == nil {
			written = make([]bool, len(cs))
		}
		written[i] = true
		q := &out[n]
		q.n++
		q.args[0] = append(q.args[0].([]int32), int32(i))
		for j := range vs {
			q.args[j+1] = append(q.args[j+1].([]pgtype.Text), vs[j])
		}
	}
	return out, written
}

// insertKeptSQL returns the statement of probeInserts for cols of tb:
// $1 the changes' indexes, then a text[] per column of cols.
func insertKeptSQL(tb *table, cols []int) string {
	var b strings.Builder
	b.WriteString("WITH v AS (SELECT * FROM unnest($1::pg_catalog.int4[]")
	for j := range cols {
		fmt.Fprintf(&b, ", $%d::pg_catalog.text[]", j+2)
	}
	b.WriteString(") AS v(i")
	for j := range cols {
		fmt.Fprintf(&b, ", c%d", j)
	}
	fmt.Fprintf(&b, ")), ins AS (INSERT INTO %s (%s) SELECT ", tb.ident, tb.names(cols, ""))
	for j, c := range cols {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "v.c%d::%s", j, tb.cols[c].typ)
	}
	fmt.Fprintf(&b, " FROM v ON CONFLICT DO NOTHING RETURNING %s) SELECT v.i FROM v WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ", tb.names(tb.Key, ""))
	for j, k := range tb.Key {
		if j > 0 {
			b.WriteString(" AND ")
		}
		fmt.Fprintf(&b, "ins.%s = v.c%d::%s", tb.cols[k].ident, slices.Index(cols, k), tb.cols[k].typ)
	}
	b.WriteString(")")
	return b.String()
}

// probeAllSQL returns the query of ProbeAll for the changes cs[idx] of
// tb, and its arguments: arrays, one element per change, of the change's
// index; of each key column's value; of each column's old value and
// whether the old row holds it; of each column's new value and whether
// the change writes it; of whether the change has a new row; and of the
// new value of column, if any, and whether the change has it. A value
// goes as the text its column's type reads, cast in the query, as in
// probeSQL. An array of whether each change has a value is left out when
// all have one, and with its values when none has (an insert's old row):
// the server reads fewer arrays (a batch of inserts' probe costs it
// about half).
func (x *tx) probeAllSQL(tb *table, cs []*apply.Change, idx []int, column string) (string, []any, error) {
	n := len(idx)
	ids := make([]int32, n)
	for j, i := range idx {
		ids[j] = int32(i)
	}
	args := []any{ids}
	from := []string{"$1::int4[]"}
	names := []string{"i"}
	// flags adds the array vs named name, or, if its elements are all
	// the same, returns it as a constant: "true", "false" or v.name.
	flags := func(name string, vs []bool) string {
		switch {
		case !slices.Contains(vs, false):
			return "true"
		case !slices.Contains(vs, true):
			return "false"
		}
		args = append(args, vs)
		from = append(from, fmt.Sprintf("$%d::bool[]", len(args)))
		names = append(names, name)
		return "v." + name
	}
	// values adds an array of the values of column i that value gives,
	// and returns whether each change has one as flags does ("false":
	// the values are left out).
	values := func(i int, name string, value func(c *apply.Change) (json.RawMessage, bool, error)) (string, error) {
		col := &tb.cols[i]
		vs := make([]pgtype.Text, n)
		has := make([]bool, n)
		for j, ci := range idx {
			raw, ok, err := value(cs[ci])
			if err != nil {
				return "", apply.Reject(err, cs[ci], refused)
			}
			if !ok {
				continue
			}
			data, null, err := x.cv.appendValue(nil, col.kind, col.elem, col.delim, raw)
			if err != nil {
				return "", apply.Reject(fmt.Errorf("column %s: %w", col.name, err), cs[ci], refused)
			}
			vs[j] = pgtype.Text{String: string(data), Valid: !null}
			has[j] = true
		}
		if !slices.Contains(has, true) {
			return "false", nil
		}
		args = append(args, vs)
		from = append(from, fmt.Sprintf("$%d::text[]", len(args)))
		names = append(names, name)
		return flags("h"+name, has), nil
	}
	// eq compares column i of the row with v.name, as probeSQL does,
	// where has: "" if it never does.
	eq := func(i int, name, has string) string {
		col, p, _ := probeTable{tb, &x.cv}.ProbeOperands(i, "v."+name, true)
		cmp := col + " " + plan.PostgresProbe.NullSafe + " " + p
		switch has {
		case "false":
			return ""
		case "true":
			return cmp
		}
		return "(NOT " + has + " OR " + cmp + ")"
	}
	var on []string
	for j, k := range tb.Key {
		name := fmt.Sprintf("k%d", j)
		_, err := values(k, name, func(c *apply.Change) (json.RawMessage, bool, error) {
			raw, err := c.ProbeKey(tb.cols[k].name)
			return raw, err == nil, err
		})
		if err != nil {
			return "", nil, err
		}
		on = append(on, fmt.Sprintf("t.%s = v.%s::%s", tb.cols[k].ident, name, tb.cols[k].typ))
	}
	if len(on) == 0 {
		return "", nil, apply.Reject(errors.New("a two-way scope's table needs a primary key"), cs[idx[0]], refused)
	}
	hasAfter := make([]bool, n)
	for j, ci := range idx {
		hasAfter[j] = cs[ci].After != nil
	}
	base, newer := []string{"true"}, []string{flags("a", hasAfter)}
	for i := range tb.cols {
		name := tb.cols[i].name
		b, a := fmt.Sprintf("b%d", i), fmt.Sprintf("a%d", i)
		hb, err := values(i, b, func(c *apply.Change) (json.RawMessage, bool, error) {
			raw, ok := c.Before[name]
			return raw, ok, nil
		})
		if err != nil {
			return "", nil, err
		}
		ha, err := values(i, a, func(c *apply.Change) (json.RawMessage, bool, error) {
			raw, ok := c.After[name]
			return raw, ok && !slices.Contains(c.Unchanged, name), nil
		})
		if err != nil {
			return "", nil, err
		}
		if e := eq(i, b, hb); e != "" {
			base = append(base, e)
		}
		if e := eq(i, a, ha); e != "" {
			newer = append(newer, e)
		}
	}
	cmp := "0"
	if i, ok := tb.Index[column]; column != "" && ok {
		has, err := values(i, "nv", func(c *apply.Change) (json.RawMessage, bool, error) {
			raw, ok := c.After[column]
			return raw, ok, nil
		})
		if err != nil {
			return "", nil, err
		}
		if has != "false" {
			v := "v.nv::" + tb.cols[i].typ
			cmp = fmt.Sprintf("CASE WHEN NOT %[3]s THEN 0 WHEN %[1]s > t.%[2]s THEN 1 WHEN %[1]s < t.%[2]s THEN -1 ELSE 0 END", v, tb.cols[i].ident, has)
		}
	} else if column == "" && slices.ContainsFunc(idx, func(i int) bool { return !cs[i].Committed.IsZero() }) {
		// newer_wins, as in probeSQL: the commit time of the transaction
		// that wrote the row, NULL for rows written before
		// track_commit_timestamp was on, or frozen; a change without a
		// commit time (another policy) compares as equal.
		committed := make([]pgtype.Timestamptz, n)
		for j, i := range idx {
			committed[j] = pgtype.Timestamptz{Time: cs[i].Committed, Valid: !cs[i].Committed.IsZero()}
		}
		args = append(args, committed)
		from = append(from, fmt.Sprintf("$%d::timestamptz[]", len(args)))
		names = append(names, "nc")
		cmp = "CASE WHEN v.nc IS NULL THEN 0 ELSE " + plan.PostgresProbe.Committed("v.nc") + " END"
	}
	q := fmt.Sprintf("SELECT v.i, to_jsonb(t)::text, %s, %s, %s FROM unnest(%s) AS v(%s) JOIN %s AS t ON %s FOR UPDATE OF t",
		strings.Join(base, " AND "), strings.Join(newer, " AND "), cmp,
		strings.Join(from, ", "), strings.Join(names, ", "), tb.ident, strings.Join(on, " AND "))
	return q, args, nil
}
