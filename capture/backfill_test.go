package capture

import "testing"

// TestBackfillFinishes: Finishes, asked before Advance, answers what Done
// says after it: the exit phase's last chunk does not finish a diff, the
// enter phase's last chunk does unless rows are left to read again or a
// truncate came in the chunk's window.
func TestBackfillFinishes(t *testing.T) {
	tbl := &Table{Schema: "public", Name: "t", Columns: []Column{{Name: "id"}}, Key: []int{0}}
	lit := func(v any) (string, bool) { return "1", true }
	for _, tt := range []struct {
		name   string
		exit   bool // the request has rows leaving the scope
		more   bool
		reread bool // a row of the chunk is read again
		trunc  bool // a truncate in the chunk's window
		want   bool
	}{
		{name: "last chunk", want: true},
		{name: "more rows", more: true},
		{name: "exit phase done", exit: true},
		{name: "row to read again", reread: true},
		{name: "truncated in the window", trunc: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := SnapshotRequest{Table: tbl.ID()}
			if tt.exit {
				req.ExitWhere = func(a []any) (string, []any) { return "true", a }
			}
			b, err := NewBackfill(req, []string{"id"}, lit)
			if err != nil {
				t.Fatal(err)
			}
			b.Next(100)
			b.OpenWindow()
			row := Row{int64(1)}
			switch {
			case tt.trunc:
				b.Touch(&Event{Table: tbl, Op: OpTruncate})
			case tt.reread:
				b.Touch(&Event{Table: tbl, Op: OpInsert, After: row})
			}
			b.Committed(1)
			b.EndWindow(nil, nil)
			if _, err := b.Keep(tbl, row, true); err != nil {
				t.Fatal(err)
			}
			got := b.Finishes(tt.more)
			b.Advance([]string{"1"}, tt.more, 1)
			if got != tt.want || b.Done() != tt.want {
				t.Errorf("Finishes = %v, Done after Advance = %v; want %v", got, b.Done(), tt.want)
			}
		})
	}
}
