package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestXATransactions checks that the rows of an XA transaction reach the
// sink at its XA COMMIT, in commit order, and never after an XA
// ROLLBACK; and that a source stopped while one is prepared resumes
// before it, finds its rows, and repeats nothing it published.
func TestXATransactions(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY)`, `CREATE TABLE other (id int PRIMARY KEY)`, `CREATE TABLE kept (id int PRIMARY KEY)`, `CREATE TABLE mark (id int PRIMARY KEY)`)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	// A prepared XA transaction belongs to its connection until it ends.
	xa, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { xa.Close() })
	run := func(c *sql.Conn, queries ...string) {
		t.Helper()
		for _, q := range queries {
			if _, err := c.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	// through commits marker row n (1, 2, …) after what the test did,
	// waits for it, and returns the rows recorded since the last marker
	// (or since rec began), the marker shown as "mark n", and the
	// transactions so far. The source emits in binlog order, so a row
	// that must not come would have come before the marker.
	marks, seen := 0, 0
	through := func(rec *recorder) ([]any, []capture.Txn) {
		t.Helper()
		marks++
		m.Exec(t, "shop", fmt.Sprintf(`INSERT INTO mark VALUES (%d)`, marks))
		want := fmt.Sprintf("mark %d", marks)
		var out []any
		var txns []capture.Txn
		testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
			var events []capture.Event
			events, txns, _ = rec.get()
			out = nil
			for i, ev := range events[seen:] {
				switch {
				case ev.Table.ID().Name == "mark":
					out = append(out, fmt.Sprintf("mark %v", ev.After[0]))
				case ev.Op == capture.OpTruncate:
					out = append(out, "truncate")
				default:
					out = append(out, ev.After[0])
				}
				if out[len(out)-1] == want {
					seen += i + 1
					return nil
				}
			}
			return fmt.Errorf("no %s yet, rows %v", want, out)
		})
		return out, txns
	}

	cfg := Config{DSN: dsn, Tables: tables("shop", "item", "kept", "mark"), Store: newStore(t), SaveInterval: 10 * time.Millisecond}
	rec := &recorder{}
	r := start(t, cfg, rec)
	run(xa, `INSERT INTO item VALUES (1)`,
		`XA START 'a'`, `INSERT INTO item VALUES (2)`, `INSERT INTO other VALUES (2)`, `XA END 'a'`, `XA PREPARE 'a'`)
	m.Exec(t, "shop", `INSERT INTO item VALUES (3)`)
	run(xa, `XA COMMIT 'a'`,
		`XA START 'b'`, `INSERT INTO item VALUES (4)`, `XA END 'b'`, `XA PREPARE 'b'`, `XA ROLLBACK 'b'`,
		`XA START 'c'`, `INSERT INTO item VALUES (5)`, `XA END 'c'`, `XA COMMIT 'c' ONE PHASE`,
		`INSERT INTO item VALUES (6)`)
	got, txns := through(rec)
	if fmt.Sprint(got) != "[1 3 2 5 6 mark 1]" {
		t.Errorf("rows %v, want [1 3 2 5 6 mark 1]: an XA transaction's at its commit, none of a rolled-back one", got)
	}
	for i := 1; i < len(txns); i++ {
		if txns[i].Pos <= txns[i-1].Pos {
			t.Errorf("positions do not grow: %s after %s", txns[i].Pos, txns[i-1].Pos)
		}
	}

	// Stop while 'd' is prepared, with later transactions published.
	run(xa, `XA START 'd'`, `INSERT INTO item VALUES (7)`, `XA END 'd'`, `XA PREPARE 'd'`)
	m.Exec(t, "shop", `INSERT INTO item VALUES (8)`, `TRUNCATE TABLE kept`)
	if got, _ := through(rec); fmt.Sprint(got) != "[8 truncate mark 2]" {
		t.Errorf("rows %v, want [8 truncate mark 2]: none of the prepared transaction's", got)
	}
	if st := r.src.Status(); st.PreparedXA != 1 {
		t.Errorf("status: %d prepared XA transactions, want 1", st.PreparedXA)
	}
	r.stop(t)
	rec, seen = &recorder{}, 0
	r = start(t, cfg, rec)
	run(xa, `XA COMMIT 'd'`)
	m.Exec(t, "shop", `INSERT INTO item VALUES (9)`)
	if got, _ := through(rec); fmt.Sprint(got) != "[7 9 mark 3]" {
		t.Errorf("after a restart: rows %v, want [7 9 mark 3]: the prepared transaction's, and nothing published before", got)
	}
	if st := r.src.Status(); st.PreparedXA != 0 {
		t.Errorf("status: %d prepared XA transactions, want 0", st.PreparedXA)
	}
}
