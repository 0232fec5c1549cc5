package capture

import (
	"fmt"
	"testing"
)

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
			if err := b.EndWindow(nil, nil); err != nil {
				t.Fatal(err)
			}
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

// TestBackfillRereadsEarlyInvisible: a transaction that the first chunk's
// read does not see has its rows dropped from the chunk; if it committed
// before the truncate went out (the sink dropped its changes), its rows
// are read again in the next chunk, and again while reads do not see it;
// if it committed after, its changes carry the rows and nothing is read
// again.
func TestBackfillRereadsEarlyInvisible(t *testing.T) {
	tbl := &Table{Schema: "public", Name: "t", Columns: []Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}
	lit := func(v any) (string, bool) {
		n, ok := v.(int64)
		return fmt.Sprint(n), ok
	}
	for _, tt := range []struct {
		name    string
		early   bool // the transaction commits before the truncate
		visible int  // chunks that do not see it; then they do
		want    [][][]string
	}{
		{name: "before the truncate", early: true, visible: 1, want: [][][]string{nil, {{"7"}}, nil}},
		{name: "before the truncate, long invisible", early: true, visible: 3, want: [][][]string{nil, {{"7"}}, {{"7"}}, {{"7"}}, nil}},
		{name: "after the truncate", visible: 1, want: [][][]string{nil, nil, nil}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBackfill(SnapshotRequest{Table: tbl.ID(), Truncate: true}, []string{"id"}, lit)
			if err != nil {
				t.Fatal(err)
			}
			const xid = 42
			invisible := func(chunk int) func(uint64) bool {
				return func(x uint64) bool { return x == xid && chunk <= tt.visible }
			}
			seen := func(chunk int) func(uint64) bool {
				return func(x uint64) bool { return x != xid || chunk > tt.visible }
			}
			change := func() {
				b.Touch(&Event{Table: tbl, Op: OpInsert, After: Row{int64(7), "new"}})
				b.Committed(xid)
			}
			if tt.early {
				change()
			}
			var got [][][]string
			for chunk := 1; chunk <= len(tt.want); chunk++ {
				spec, _ := b.Next(100)
				got = append(got, spec.Reread)
				b.OpenWindow()
				if chunk == 1 {
					b.State.Truncated = true // sent at the first low watermark
					if !tt.early {
						change()
					}
				}
				if err := b.EndWindow(invisible(chunk), seen(chunk)); err != nil {
					t.Fatal(err)
				}
				if keep, err := b.Keep(tbl, Row{int64(7), "old"}, len(spec.Reread) > 0); err != nil || keep == (chunk <= tt.visible || !tt.early && chunk == 1) {
					t.Fatalf("chunk %d keeps row 7: %v (%v)", chunk, keep, err)
				}
				b.Advance([]string{"7"}, true, 0)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("rows read again by chunk: %v, want %v", got, tt.want)
			}
		})
	}
}
