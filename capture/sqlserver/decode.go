package sqlserver

import (
	"bytes"
	"fmt"

	"github.com/syncd-dev/syncd/capture"
)

// decode turns one change row of t into a capture event (without its Txn).
// ok is false for changes capture skips:
//   - those carrying skipContext, syncd's own writes tagged WITH
//     CHANGE_TRACKING_CONTEXT (a nil skipContext skips none);
//   - inserts and updates whose base row has since gone: the row's delete
//     is the net change of a later poll, or the skipped row's delete never
//     was (a row deleted after the poll's snapshot is not in it).
//
// Deletes carry the key only, every other column Absent: a scope filter on
// such a column matches unknown, so the delete reaches every scope holding
// the table, which is harmless for a row a scope never had.
//
// Updates carry no old image. When SYS_CHANGE_COLUMNS names the columns
// that changed, Before holds the key and the columns that did not change
// (their current values are their old ones), the changed ones Absent: a
// filter on an unchanged column then knows the row did not cross the
// scope's boundary. With a NULL mask Before is nil: any column may have
// changed.
func decode(t *Table, r ChangeRow, skipContext []byte) (ev capture.Event, ok bool, err error) {
	if skipContext != nil && bytes.Equal(r.Context, skipContext) {
		return ev, false, nil
	}
	ev.Table = t.Table
	switch r.Op {
	case 'D':
		if len(r.Key) != len(t.Key) {
			return ev, false, fmt.Errorf("decode delete of %s: %d key values for %d key columns", t.ID(), len(r.Key), len(t.Key))
		}
		ev.Op = capture.OpDelete
		ev.Before = keyRow(t, r.Key)
		return ev, true, nil
	case 'I', 'U':
		if r.Row == nil {
			return ev, false, nil
		}
		if len(r.Row) != len(t.Columns) {
			return ev, false, fmt.Errorf("decode change of %s: %d values for %d columns", t.ID(), len(r.Row), len(t.Columns))
		}
		ev.After = r.Row
		if r.Op == 'I' {
			ev.Op = capture.OpInsert
			return ev, true, nil
		}
		ev.Op = capture.OpUpdate
		if r.Changed != nil {
			if len(r.Changed) != len(t.Columns) {
				return ev, false, fmt.Errorf("decode update of %s: column mask of %d for %d columns", t.ID(), len(r.Changed), len(t.Columns))
			}
			ev.Before = unchanged(t, r.Row, r.Changed)
		}
		return ev, true, nil
	}
	return ev, false, fmt.Errorf("decode change of %s: unknown SYS_CHANGE_OPERATION %q", t.ID(), r.Op)
}

// keyRow returns a row of t holding key in its key columns, Absent elsewhere.
func keyRow(t *Table, key capture.Row) capture.Row {
	row := absentRow(len(t.Columns))
	for i, k := range t.Key {
		row[k] = key[i]
	}
	return row
}

// unchanged returns row with the columns changed names (other than the
// key's) replaced by Absent.
func unchanged(t *Table, row capture.Row, changed []bool) capture.Row {
	before := make(capture.Row, len(row))
	copy(before, row)
	for i := range before {
		if changed[i] && !isKey(t, i) {
			before[i] = capture.Absent
		}
	}
	return before
}

func isKey(t *Table, col int) bool {
	for _, k := range t.Key {
		if k == col {
			return true
		}
	}
	return false
}

func absentRow(n int) capture.Row {
	row := make(capture.Row, n)
	for i := range row {
		row[i] = capture.Absent
	}
	return row
}
