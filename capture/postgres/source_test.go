package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// recorder is a sink that keeps what it receives and reports every
// committed transaction durable at once.
type recorder struct {
	mu      sync.Mutex
	calls   []string // "begin", "change", "commit"
	events  []capture.Event
	txns    []capture.Txn
	durable capture.Position
}

func (r *recorder) Begin(_ context.Context, txn *capture.Txn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "begin")
	return nil
}

func (r *recorder) Change(_ context.Context, ev *capture.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "change")
	// The source reuses its rows: keep copies, as the contract says.
	c := *ev
	c.Before, c.After = clone(ev.Before), clone(ev.After)
	r.events = append(r.events, c)
	return nil
}

func clone(r capture.Row) capture.Row {
	if r == nil {
		return nil
	}
	return append(capture.Row(nil), r...)
}

func (r *recorder) Commit(_ context.Context, txn *capture.Txn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "commit")
	r.txns = append(r.txns, *txn)
	r.durable = txn.Ack
	return nil
}

func (r *recorder) Flush(context.Context) error { return nil }
func (r *recorder) Drain(context.Context) error { return nil }
func (r *recorder) Durable() (capture.Position, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.durable, true
}

func (r *recorder) snapshot() ([]capture.Event, []capture.Txn, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]capture.Event(nil), r.events...), append([]capture.Txn(nil), r.txns...), append([]string(nil), r.calls...)
}

// TestSourceEvents runs a Source against a real server and checks the
// events it produces: transaction framing, key-only old rows, unchanged
// TOAST values, full old rows, truncates and replication origins.
func TestSourceEvents(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app",
		`CREATE TABLE doc (id int PRIMARY KEY, title text, body text)`,
		`CREATE TABLE full_doc (id int PRIMARY KEY, title text, body text)`,
		`ALTER TABLE full_doc REPLICA IDENTITY FULL`,
		`ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL`,
		`ALTER TABLE full_doc ALTER COLUMN body SET STORAGE EXTERNAL`)
	src, err := New(Config{
		Name: "app", DSN: dsn, Slot: "s", Publication: "p",
		Tables: []capture.TableSpec{{ID: capture.TableID{Schema: "public", Name: "doc"}}, {ID: capture.TableID{Schema: "public", Name: "full_doc"}}},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rec) }()
	defer func() {
		// Run waits in a read with a deadline 10s away (the status
		// interval): cancelling must end it at once.
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v after cancel, want context.Canceled", err)
			}
		case <-time.After(3 * time.Second):
			t.Errorf("Run still running 3s after cancel")
			<-done
		}
	}()

	big := strings.Repeat("x", 10_000) // stored out of line: EXTERNAL storage, over 2 kB
	pg.Exec(t, "app",
		`INSERT INTO doc VALUES (1, 'a', '`+big+`'), (2, 'b', NULL)`,
		`UPDATE doc SET title = 'a2' WHERE id = 1`, // body unchanged and TOASTed
		`UPDATE doc SET id = 10 WHERE id = 2`,      // key change: key-only old row
		`INSERT INTO full_doc VALUES (1, 'f', '`+big+`')`,
		`UPDATE full_doc SET title = 'f2' WHERE id = 1`, // full old row fills the TOAST value
		`DELETE FROM doc WHERE id = 10`,
		`SELECT pg_replication_origin_create('upstream')`,
		`SELECT pg_replication_origin_session_setup('upstream'); INSERT INTO doc VALUES (3, 'from upstream', NULL)`)
	pg.Exec(t, "app", `TRUNCATE doc, full_doc`) // a new session, without the origin

	var events []capture.Event
	var txns []capture.Txn
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		events, txns, _ = rec.snapshot()
		if len(txns) < 8 {
			return fmt.Errorf("%d of 8 transactions so far", len(txns))
		}
		return nil
	})
	_, _, calls := rec.snapshot()
	for i := 1; i < len(calls); i++ {
		if calls[i] == "begin" && calls[i-1] != "commit" || calls[i] == "commit" && calls[i-1] == "commit" {
			t.Fatalf("calls out of order: %v", calls)
		}
	}
	for _, txn := range txns {
		if txn.Ack <= txn.Pos || txn.ID == "" || txn.CommitTime.IsZero() {
			t.Fatalf("transaction %+v: want Ack > Pos, an id and a commit time", txn)
		}
	}

	type want struct {
		table         string
		op            capture.Op
		before, after capture.Row
		origin        string
	}
	A := capture.Absent
	wants := []want{
		{"doc", capture.OpInsert, nil, capture.Row{int32(1), "a", big}, ""},
		{"doc", capture.OpInsert, nil, capture.Row{int32(2), "b", nil}, ""},
		{"doc", capture.OpUpdate, nil, capture.Row{int32(1), "a2", A}, ""},
		{"doc", capture.OpUpdate, capture.Row{int32(2), A, A}, capture.Row{int32(10), "b", nil}, ""},
		{"full_doc", capture.OpInsert, nil, capture.Row{int32(1), "f", big}, ""},
		{"full_doc", capture.OpUpdate, capture.Row{int32(1), "f", big}, capture.Row{int32(1), "f2", big}, ""},
		{"doc", capture.OpDelete, capture.Row{int32(10), A, A}, nil, ""},
		{"doc", capture.OpInsert, nil, capture.Row{int32(3), "from upstream", nil}, "upstream"},
		{"doc", capture.OpTruncate, nil, nil, ""},
		{"full_doc", capture.OpTruncate, nil, nil, ""},
	}
	if len(events) != len(wants) {
		t.Fatalf("%d events, want %d", len(events), len(wants))
	}
	for i, w := range wants {
		ev := events[i]
		if ev.Table.Name != w.table || ev.Op != w.op || !rowsEqual(ev.Before, w.before) || !rowsEqual(ev.After, w.after) || ev.Txn.Origin != w.origin {
			t.Errorf("event %d: %s %c before %s after %s origin %q\nwant %s %c before %s after %s origin %q", i,
				ev.Table.Name, ev.Op, short(ev.Before), short(ev.After), ev.Txn.Origin, w.table, w.op, short(w.before), short(w.after), w.origin)
		}
	}
	if key := events[0].Table.Key; len(key) != 1 || key[0] != 0 {
		t.Errorf("doc key = %v, want [0]", key)
	}
	if key := events[4].Table.Key; len(key) != 1 || key[0] != 0 {
		t.Errorf("full_doc key = %v, want [0] (from the catalog, as FULL flags every column)", key)
	}
	if typ := events[0].Table.Columns[0].Type; typ != "integer" {
		t.Errorf("doc.id type = %q, want integer", typ)
	}

	// Everything was reported durable at once, so the slot must catch up.
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if st := src.Status(); st.Confirmed < txns[len(txns)-1].Ack {
			return errors.New("confirmed position behind the last commit")
		}
		return nil
	})
}

func rowsEqual(a, b capture.Row) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// short prints a row with long strings cut.
func short(r capture.Row) string {
	if r == nil {
		return "nil"
	}
	parts := make([]string, len(r))
	for i, v := range r {
		switch v := v.(type) {
		case string:
			if len(v) > 10 {
				v = v[:10] + "…"
			}
			parts[i] = v
		default:
			if v == capture.Absent {
				parts[i] = "<absent>"
			} else {
				parts[i] = strings.TrimSpace(strings.ReplaceAll(fmtValue(v), "\n", " "))
			}
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func fmtValue(v any) string { return fmt.Sprintf("%#v", v) }
