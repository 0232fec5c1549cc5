package postgres

import (
	"hash/maphash"
	"slices"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
)

// Group limits: a group becomes a statement when it reaches either.
const (
	maxGroupRows  = 1000
	maxGroupBytes = 4 << 20
)

// group gathers consecutive rows of one table, statement kind and column
// set, to be written by one statement with one text[] parameter per
// column.
type group struct {
	table *table
	op    plan.Op
	cols  []int
	vals  []*texts // per column, its values so far
	rows  int
	size  int
	first *apply.Change       // the first change, named if it fails alone
	keys  map[uint64]struct{} // hashes of the keys of an upsert group
	seed  maphash.Seed
	spare []*texts // arrays sent, to reuse
}

func newGroup() group {
	return group{keys: make(map[uint64]struct{}), seed: maphash.MakeSeed()}
}

// add appends r, the values of the columns cols of change c, if it fits the group: same
// table, kind and columns, and, for upserts and updates, a key the group
// does not hold yet (ON CONFLICT cannot change one row twice, and an
// update's row count must match its rows). An empty group
// takes any row. It reports false if r does not fit.
func (g *group) add(tb *table, o plan.Op, c *apply.Change, cols []int, r *texts) bool {
	if g.rows > 0 && (g.table != tb || g.op != o || !slices.Equal(g.cols, cols)) {
		return false
	}
	var h uint64
	byKey := o == plan.Upsert || o == plan.Update || o == plan.Reland
	if byKey {
		h = keyHash(g.seed, tb, cols, r)
		if _, dup := g.keys[h]; dup && g.rows > 0 {
			return false
		}
	}
	if g.rows == 0 {
		g.start(tb, o, cols)
		g.first = c
	}
	for i := range g.cols {
		g.vals[i].add(r.value(i), r.nulls[i])
	}
	if byKey {
		g.keys[h] = struct{}{}
	}
	g.rows++
	g.size += len(r.data) + 8*len(cols)
	return true
}

// keyHash hashes the key values of r, the values of the columns cols. A
// collision only ends a group early.
func keyHash(seed maphash.Seed, tb *table, cols []int, r *texts) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, k := range tb.Key {
		i := slices.Index(cols, k)
		if i < 0 || r.nulls[i] {
			h.WriteByte(0)
			continue
		}
		v := r.value(i)
		h.WriteByte(1)
		h.Write(v)
		h.WriteByte(byte(len(v)))
	}
	return h.Sum64()
}

// start empties the group for rows of tb, o and cols.
func (g *group) start(tb *table, o plan.Op, cols []int) {
	g.table, g.op, g.rows, g.size, g.first = tb, o, 0, 0, nil
	g.cols = append(g.cols[:0], cols...)
	clear(g.keys)
	g.vals = g.vals[:0]
	for range cols {
		var ts *texts
		if n := len(g.spare); n > 0 {
			ts, g.spare = g.spare[n-1], g.spare[:n-1]
			ts.reset()
		} else {
			ts = &texts{data: make([]byte, 0, 1024)}
		}
		g.vals = append(g.vals, ts)
	}
}

// full reports whether the group has reached its limits.
func (g *group) full() bool { return g.rows >= maxGroupRows || g.size >= maxGroupBytes }

// take returns the group as a statement and empties it. The statement
// owns the group's arrays until recycle gets them back.
func (g *group) take() queued {
	args := make([]any, len(g.vals))
	q := queued{sql: g.table.statement(g.op, g.cols), args: args, table: g.table, op: g.op, rows: g.rows, size: g.size}
	if g.rows == 1 {
		q.change = g.first
		if one := single(g.op); one != g.op {
			// One row: scalar parameters, and the arrays go back to
			// the spares at once.
			q.sql = g.table.statement(one, g.cols)
			for i, v := range g.vals {
				if !v.nulls[0] {
					args[i] = string(v.value(0))
				}
			}
			g.recycle(&queued{args: anys(g.vals)})
			g.rows, g.size, g.first, g.vals = 0, 0, nil, nil
			return q
		}
	}
	for i, v := range g.vals {
		args[i] = v
	}
	g.rows, g.size, g.first, g.vals = 0, 0, nil, nil
	return q
}

func anys(vals []*texts) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

// Spare arrays kept for reuse: at most maxSpare, of at most maxSpareBytes
// each, so that one large transaction does not pin its memory.
const (
	maxSpare      = 64
	maxSpareBytes = 1 << 20
)

// recycle takes back the arrays of a statement that was sent.
func (g *group) recycle(q *queued) {
	for _, a := range q.args {
		ts, ok := a.(*texts)
		if ok && len(g.spare) < maxSpare && cap(ts.data) <= maxSpareBytes {
			g.spare = append(g.spare, ts)
		}
	}
}
