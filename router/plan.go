package router

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/filter"
	"github.com/syncd-dev/syncd/scopes/mapping"
)

// plan is how one scope table publishes the rows of one version of a
// source table: which columns, which rows, on which subjects, with the
// constant parts of the envelope encoded once.
type plan struct {
	pub    *publisher
	table  *capture.Table
	key    []int           // primary key columns of table
	filter *filter.Program // nil: every row, evaluated on table's rows

	// What the plan publishes: table's rows, or with a mapping, mapper's
	// rows of the mapped table out.
	mapper *mapping.Mapper // nil: no mapping
	out    *capture.Table  // table, or the mapped table
	outKey []int           // out's key columns
	cols   []int           // projected columns of out, in its order
	names  [][]byte        // `"name":` per column of out

	// The columns of out a mapping-only backfill sends (see reland):
	// relandKeep for relandCols; relandKeep nil: every column.
	relandCols []string
	relandKeep []bool

	subjects     map[capture.Op]string
	events       map[capture.Op]prometheus.Counter
	scopePrefix  []byte // `,"scope":{"name":…,"version":…,"reason":"`
	sourcePrefix []byte // `"},"source":{…,"pos":"`

	// txnPart is what follows sourcePrefix in the bodies of txnOf's rows,
	// from the position to `,"seq":`, which every row of a transaction
	// shares: the router goroutine writes it once a transaction.
	txnOf   *capture.Txn
	txnPart []byte
}

type planKey struct {
	st    *scopes.Table
	table *capture.Table
}

// newPlan checks a scope table's columns and filter against the source
// table's columns. Its errors are terminal: the config and the source
// table disagree.
func newPlan(pub *publisher, st *scopes.Table, t *capture.Table, src SourceInfo, version int, m *Metrics) (*plan, error) {
	p := &plan{pub: pub, table: t, key: t.Key, out: t, outKey: t.Key}
	if st.Mapping != nil && len(t.Columns) > 0 {
		mp, err := mapping.Compile(st.Mapping, t, src.Kind)
		if err != nil {
			return nil, retry.Terminal(fmt.Errorf("scope %q: mapping of %s: %w", st.Scope.Name, t.ID(), err))
		}
		p.mapper, p.out = mp, mp.Table()
		p.outKey = p.out.Key
	}
	p.names = make([][]byte, len(p.out.Columns))
	for i, c := range p.out.Columns {
		p.names[i] = append(appendString(nil, c.Name), ':')
	}
	switch {
	case len(t.Columns) == 0:
		// A table the source knows by name only: a MySQL TRUNCATE of a
		// table none of whose rows it has read this session. Only
		// truncates carry no columns.
	case st.Columns == nil:
		p.cols = make([]int, len(p.out.Columns))
		for i := range p.cols {
			p.cols[i] = i
		}
	default:
		listed := make(map[int]bool, len(st.Columns))
		for _, name := range st.Columns {
			i := t.Column(name)
			if i < 0 {
				return nil, retry.Terminal(fmt.Errorf("scope %q: table %s has no column %q", st.Scope.Name, t.ID(), name))
			}
			listed[i] = true
		}
		for i := range t.Columns {
			if listed[i] {
				p.cols = append(p.cols, i)
			}
		}
	}
	if st.Where != nil && len(t.Columns) > 0 {
		prog, err := st.Where.Compile(t.Column)
		if err != nil {
			return nil, retry.Terminal(fmt.Errorf("scope %q: filter on %s: %w", st.Scope.Name, t.ID(), err))
		}
		p.filter = prog
	}

	scope := st.Scope.Name
	p.subjects = make(map[capture.Op]string, 5)
	p.events = make(map[capture.Op]prometheus.Counter, 5)
	for _, op := range []capture.Op{capture.OpInsert, capture.OpUpdate, capture.OpDelete, capture.OpRead, capture.OpTruncate, capture.OpCopyEnd} {
		p.subjects[op] = Subject(scope, src.Name, t.ID(), op)
		// Label values must be UTF-8, which a table name from a
		// SQL_ASCII database need not be.
		p.events[op] = m.Events.WithLabelValues(scope, strings.ToValidUTF8(t.ID().String(), "\uFFFD"), op.String())
	}

	b := append([]byte(nil), `,"scope":{"name":`...)
	b = appendString(b, scope)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(version), 10)
	p.scopePrefix = append(b, `,"reason":"`...)

	b = append([]byte(nil), `"},"source":{"kind":`...)
	b = appendString(b, src.Kind)
	b = append(b, `,"name":`...)
	b = appendString(b, src.Name)
	b = append(b, `,"db":`...)
	b = appendString(b, src.DB)
	b = append(b, `,"schema":`...)
	b = appendString(b, t.Schema)
	b = append(b, `,"table":`...)
	b = appendString(b, t.Name)
	p.sourcePrefix = append(b, `,"pos":"`...)
	return p, nil
}

// matches reports whether row passes the filter: True, False or, when it
// references NULL or values the source did not send, Unknown.
func (p *plan) matches(row capture.Row) filter.Tri {
	if p.filter == nil {
		return filter.True
	}
	return p.filter.Eval(row)
}

// route decides what, if anything, the scope publishes for ev:
//
//   - inserts and snapshot reads: the row if it matches;
//   - deletes: unless the old row is known not to match;
//   - updates: a change if the new row matches (an insert with reason
//     scope_enter if the old row is known not to have matched), a delete
//     with reason scope_exit if it does not (unless the old row is known
//     not to have matched either). Without an old image the old row's
//     match is unknown, so a non-matching update always exits: deleting
//     an absent row is harmless, leaving a stale one is not;
//   - truncates and a copy's end marks: always.
//
// With stale, the targets may still hold rows the filter rejects (rows of
// the scope's previous definition, until its diff snapshot has deleted
// them): deletes go out whatever the old row, and updates whose new row
// does not match exit whatever the old row.
func (p *plan) route(ev *capture.Event, stale bool) (message, bool) {
	m := message{plan: p, op: ev.Op, reason: ReasonChange, ev: ev, key: ev.Key(), before: ev.Before, after: ev.After}
	switch ev.Op {
	case capture.OpInsert, capture.OpRead:
		if ev.Op == capture.OpRead {
			m.reason = ReasonSnapshot
		}
		return m, p.matches(ev.After) == filter.True
	case capture.OpDelete:
		return m, stale || ev.Before == nil || p.matches(ev.Before) != filter.False
	case capture.OpTruncate, capture.OpCopyEnd:
		m.key = nil
		return m, true
	case capture.OpUpdate:
		if p.filter == nil {
			return m, true
		}
		was := filter.Unknown
		if ev.Before != nil {
			was = p.matches(ev.Before)
		}
		switch {
		case p.matches(ev.After) == filter.True && was == filter.False:
			m.op, m.reason, m.before = capture.OpInsert, ReasonScopeEnter, nil
			return m, true
		case p.matches(ev.After) == filter.True:
			return m, true
		case was == filter.False && !stale:
			return m, false
		default:
			m.op, m.reason, m.after = capture.OpDelete, ReasonScopeExit, nil
			m.key, m.before = p.oldKey(ev), ev.Before
			if m.before == nil {
				m.before = m.key
			}
			return m, true
		}
	}
	return m, false
}

// mapRows maps a routed message's rows, if the plan has a mapping. A row
// the mapping fails on goes out without rows, with the error (see
// Envelope.Error), so that apply workers park it or stop as the scope's
// on_apply_error says: never half-mapped.
func (p *plan) mapRows(m *message) {
	if p.mapper == nil || m.op == capture.OpTruncate || m.op == capture.OpCopyEnd {
		return
	}
	before, err := p.mapper.Map(m.before)
	var after, key capture.Row
	if err == nil {
		after, err = p.mapper.Map(m.after)
	}
	if err == nil {
		switch {
		case m.key == nil:
		case sameRow(m.key, m.after):
			key = after
		case sameRow(m.key, m.before):
			key = before
		default:
			key, err = p.mapper.Map(m.key)
		}
	}
	if err != nil {
		m.key, m.before, m.after, m.err = nil, nil, nil, err.Error()
		return
	}
	m.key, m.before, m.after = key, before, after
}

// sameRow reports whether a and b are the same slice.
func sameRow(a, b capture.Row) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// tableRoutes are the scope tables covering one source table version, with
// the index of their filters and where its column is in the version's rows.
type tableRoutes struct {
	tables  []*scopes.Table // as scopes.Index.Lookup returns them
	filters *filter.Index   // positions in tables
	col     int             // the indexed column in the table's rows, or -1
}

func newTableRoutes(ix *scopes.Index, source string, t *capture.Table) *tableRoutes {
	rt := &tableRoutes{tables: ix.Lookup(source, t.ID()), filters: ix.Filters(source, t.ID()), col: -1}
	if rt.filters == nil {
		rt.filters = filter.NewIndex(nil)
	}
	if name := rt.filters.Column(); name != "" {
		rt.col = t.Column(name)
	}
	return rt
}

// candidates appends to dst the positions in rt.tables of the scope tables
// that may publish ev. It leaves out only tables whose filter is FALSE for
// every row image route consults (the new row of inserts and reads, the
// old of deletes, both of updates), for which route publishes nothing. A
// missing image (an update without its old row) or a key-only one has the
// indexed column Absent, which rules nothing out; truncates go to every
// table.
func (rt *tableRoutes) candidates(dst []int, ev *capture.Event) []int {
	switch ev.Op {
	case capture.OpInsert, capture.OpRead:
		return rt.filters.Candidates(dst, rt.value(ev.After))
	case capture.OpDelete:
		return rt.filters.Candidates(dst, rt.value(ev.Before))
	case capture.OpUpdate:
		return rt.filters.Candidates(dst, rt.value(ev.Before), rt.value(ev.After))
	}
	return rt.filters.All(dst)
}

// value returns the indexed column's value in row: Absent if the table
// has no such column or the row is short or nil.
func (rt *tableRoutes) value(row capture.Row) any {
	if rt.col < 0 || rt.col >= len(row) {
		return capture.Absent
	}
	return row[rt.col]
}

// oldKey returns a row holding the key the target has for an updated row:
// the old image's key if the source sent one, else the new row's key (which
// then did not change).
func (p *plan) oldKey(ev *capture.Event) capture.Row {
	src := ev.After
	if ev.Before != nil && len(p.key) > 0 && ev.Before[p.key[0]] != capture.Absent {
		src = ev.Before
	}
	key := make(capture.Row, len(p.table.Columns))
	for i := range key {
		key[i] = capture.Absent
	}
	for _, k := range p.key {
		key[k] = src[k]
	}
	return key
}
