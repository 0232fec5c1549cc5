package sqlserver

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/syncd-dev/syncd/capture"
)

// MODEL. ctModel is a model of SQL Server change tracking, not SQL Server:
// an in-memory database of tables keyed by one int64 column, with the
// version counter, per-row change history, minimum valid versions, column
// masks and contexts that change tracking keeps, as Microsoft documents
// them. It implements Tracker so that the capture loop can be tested
// without a server. What it assumes:
//
//   - every committed DML statement (here: every mutation) gets the next
//     database version (CHANGE_TRACKING_CURRENT_VERSION);
//   - CHANGETABLE(CHANGES t, v) returns one row per key changed after v:
//     D if the row's last change deleted it, I if the row did not exist at
//     v, else U with SYS_CHANGE_COLUMNS the union of the columns updated
//     after v (NULL when an update's columns are unknown, and for a row
//     deleted and inserted again: "seen as an update to all columns in
//     the row"); its version is the row's last change's, its context the
//     last change's
//     (https://learn.microsoft.com/sql/relational-databases/system-functions/changetable-transact-sql);
//   - the cleanup task removes history at or before a version c and sets
//     the minimum valid version to c;
//   - TRUNCATE TABLE removes the table's history and sets its minimum
//     valid version to a new version above every earlier one (whether a
//     real server bumps the database version on TRUNCATE is to be checked
//     against one: live_test.go);
//   - a poll's reads all see the state at Begin (snapshot isolation).
type ctModel struct {
	mu      sync.Mutex // the model may be written while a Run polls it
	version int64
	tables  map[capture.TableID]*modelTable
	tracked bool // change tracking on for the database
	inTxn   bool // changes share the version txn started
}

type modelTable struct {
	t        *Table
	rows     map[int64]capture.Row
	history  map[int64][]modelChange
	minValid int64
}

type modelChange struct {
	v       int64
	op      byte    // I, U, D
	mask    *uint64 // columns updated (U), nil = unknown
	context []byte
}

// modelTableOf makes a table "dbo.<name>" with int64 key "id" and the
// given other columns; column ids are 1, 2, ...
func modelTableOf(name string, cols ...string) *Table {
	t := &Table{Table: &capture.Table{Schema: "dbo", Name: name, Key: []int{0}}}
	for i, c := range append([]string{"id"}, cols...) {
		t.Columns = append(t.Columns, capture.Column{Name: c, Type: "bigint"})
		t.ColumnIDs = append(t.ColumnIDs, i+1)
	}
	return t
}

func newModel(tables ...*Table) *ctModel {
	m := &ctModel{tables: map[capture.TableID]*modelTable{}, tracked: true}
	for _, t := range tables {
		m.tables[t.ID()] = &modelTable{t: t, rows: map[int64]capture.Row{}, history: map[int64][]modelChange{}}
	}
	return m
}

func (m *ctModel) table(t *Table) *modelTable { return m.tables[t.ID()] }

// upsert writes row (its key in column 0); changed lists the column
// indexes an update sets (nil: unknown, a NULL mask).
func (m *ctModel) upsert(t *Table, row capture.Row, changed []int, context []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.table(t)
	id := row[0].(int64)
	m.next()
	c := modelChange{v: m.version, op: 'U', context: context}
	if _, ok := mt.rows[id]; !ok {
		c.op = 'I'
	} else if changed != nil {
		var mask uint64
		for _, i := range changed {
			mask |= 1 << (t.ColumnIDs[i] - 1)
		}
		c.mask = &mask
	}
	mt.rows[id] = slices.Clone(row)
	mt.history[id] = append(mt.history[id], c)
}

// next moves to the version of the next change, unless in a txn.
func (m *ctModel) next() {
	if !m.inTxn {
		m.version++
	}
}

// txn makes the upserts and deletes of fn one transaction: one version.
func (m *ctModel) txn(fn func()) {
	m.mu.Lock()
	m.version++
	m.inTxn = true
	m.mu.Unlock()
	fn()
	m.mu.Lock()
	m.inTxn = false
	m.mu.Unlock()
}

func (m *ctModel) delete(t *Table, id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.table(t)
	if _, ok := mt.rows[id]; !ok {
		return
	}
	m.next()
	delete(mt.rows, id)
	mt.history[id] = append(mt.history[id], modelChange{v: m.version, op: 'D'})
}

func (m *ctModel) truncate(t *Table) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := m.table(t)
	m.version++
	mt.rows = map[int64]capture.Row{}
	mt.history = map[int64][]modelChange{}
	mt.minValid = m.version
}

// cleanup removes the history at or before version c, as the retention
// cleanup task does.
func (m *ctModel) cleanup(c int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mt := range m.tables {
		for id, h := range mt.history {
			i := 0
			for i < len(h) && h[i].v <= c {
				i++
			}
			if i == len(h) {
				delete(mt.history, id)
			} else {
				mt.history[id] = h[i:]
			}
		}
		mt.minValid = max(mt.minValid, c)
	}
}

// Begin implements Tracker: the poll reads a deep copy, the snapshot.
func (m *ctModel) Begin(context.Context) (Poll, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := &ctModel{version: m.version, tracked: m.tracked, tables: map[capture.TableID]*modelTable{}}
	for id, mt := range m.tables {
		c := &modelTable{t: mt.t, rows: map[int64]capture.Row{}, history: map[int64][]modelChange{}, minValid: mt.minValid}
		for k, r := range mt.rows {
			c.rows[k] = slices.Clone(r)
		}
		for k, h := range mt.history {
			c.history[k] = slices.Clone(h)
		}
		snap.tables[id] = c
	}
	return &modelPoll{m: snap}, nil
}

type modelPoll struct{ m *ctModel }

func (p *modelPoll) CurrentVersion(context.Context) (int64, bool, error) {
	return p.m.version, p.m.tracked, nil
}

func (p *modelPoll) MinValidVersion(_ context.Context, t *Table) (int64, bool, error) {
	mt := p.m.table(t)
	if mt == nil || !p.m.tracked {
		return 0, false, nil
	}
	return mt.minValid, true, nil
}

func (p *modelPoll) Changes(_ context.Context, t *Table, since, upTo int64, fn func(ChangeRow) error) error {
	mt := p.m.table(t)
	if mt == nil {
		return errors.New("model: no such table")
	}
	var out []ChangeRow
	for id, h := range mt.history {
		i, _ := slices.BinarySearchFunc(h, since+1, func(c modelChange, v int64) int { return cmp.Compare(c.v, v) })
		after := h[i:]
		if len(after) == 0 || after[len(after)-1].v > upTo {
			continue
		}
		last := after[len(after)-1]
		r := ChangeRow{Version: last.v, Op: last.op, Context: last.context, Key: capture.Row{id}}
		if last.op != 'D' {
			if after[0].op == 'I' {
				r.Op = 'I'
			} else {
				// The row existed at since: an update, also when it was
				// deleted and inserted again ("seen as an update to all
				// columns", CHANGETABLE's documentation; the delete's nil
				// mask makes it so).
				r.Op = 'U'
				var mask uint64
				known := true
				for _, c := range after {
					if c.mask == nil {
						known = false
						break
					}
					mask |= *c.mask
				}
				if known {
					r.Changed = changedColumns(t, &mask)
				}
			}
		}
		if row, ok := mt.rows[id]; ok {
			r.Row = slices.Clone(row)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ChangeRow) int {
		return cmp.Or(cmp.Compare(a.Version, b.Version), cmp.Compare(a.Key[0].(int64), b.Key[0].(int64)))
	})
	for _, r := range out {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Chunk ignores where: the model evaluates no SQL (the sink filters reads
// by scope anyway).
func (p *modelPoll) Chunk(_ context.Context, t *Table, after capture.Row, limit int, _ string, _ []any) ([]capture.Row, error) {
	mt := p.m.table(t)
	keys := make([]int64, 0, len(mt.rows))
	for k := range mt.rows {
		if after == nil || k > after[0].(int64) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []capture.Row
	for _, k := range keys[:min(limit, len(keys))] {
		out = append(out, slices.Clone(mt.rows[k]))
	}
	return out, nil
}

func (p *modelPoll) Close() error { return nil }

// inMask is CHANGE_TRACKING_IS_COLUMN_IN_MASK(columnID, mask) for the
// model's masks: a bit per column id, bit columnID-1 set when the column
// changed. A NULL mask (nil) means every column may have changed, so the
// columns are all reported in it. The real function reads SQL Server's own
// undocumented SYS_CHANGE_COLUMNS encoding, so mssqlTracker calls it in
// T-SQL instead (changesSQL).
func inMask(columnID int, mask *uint64) bool {
	if mask == nil {
		return true
	}
	if columnID < 1 || columnID > 64 {
		return false
	}
	return *mask&(1<<(columnID-1)) != 0
}

// changedColumns maps a model mask onto ChangeRow.Changed.
func changedColumns(t *Table, mask *uint64) []bool {
	if mask == nil {
		return nil
	}
	out := make([]bool, len(t.ColumnIDs))
	for i, id := range t.ColumnIDs {
		out[i] = inMask(id, mask)
	}
	return out
}
