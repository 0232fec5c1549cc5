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
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY)`, `CREATE TABLE other (id int PRIMARY KEY)`, `CREATE TABLE kept (id int PRIMARY KEY)`)
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
	ids := func(rec *recorder, want int) ([]any, []capture.Txn) {
		t.Helper()
		var events []capture.Event
		var txns []capture.Txn
		testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
			if events, txns, _ = rec.get(); len(events) < want {
				return fmt.Errorf("%d of %d rows", len(events), want)
			}
			return nil
		})
		time.Sleep(200 * time.Millisecond) // nothing more may come
		events, txns, _ = rec.get()
		var out []any
		for _, ev := range events {
			if ev.Op == capture.OpTruncate {
				out = append(out, "truncate")
			} else {
				out = append(out, ev.After[0])
			}
		}
		return out, txns
	}

	cfg := Config{DSN: dsn, Tables: tables("shop", "item", "kept"), Store: newStore(t), SaveInterval: 10 * time.Millisecond}
	rec := &recorder{}
	r := start(t, cfg, rec)
	run(xa, `INSERT INTO item VALUES (1)`,
		`XA START 'a'`, `INSERT INTO item VALUES (2)`, `INSERT INTO other VALUES (2)`, `XA END 'a'`, `XA PREPARE 'a'`)
	m.Exec(t, "shop", `INSERT INTO item VALUES (3)`)
	run(xa, `XA COMMIT 'a'`,
		`XA START 'b'`, `INSERT INTO item VALUES (4)`, `XA END 'b'`, `XA PREPARE 'b'`, `XA ROLLBACK 'b'`,
		`XA START 'c'`, `INSERT INTO item VALUES (5)`, `XA END 'c'`, `XA COMMIT 'c' ONE PHASE`,
		`INSERT INTO item VALUES (6)`)
	got, txns := ids(rec, 5)
	if fmt.Sprint(got) != "[1 3 2 5 6]" {
		t.Errorf("rows %v, want [1 3 2 5 6]: an XA transaction's at its commit, none of a rolled-back one", got)
	}
	for i := 1; i < len(txns); i++ {
		if txns[i].Pos <= txns[i-1].Pos {
			t.Errorf("positions do not grow: %s after %s", txns[i].Pos, txns[i-1].Pos)
		}
	}

	// Stop while 'd' is prepared, with later transactions published.
	run(xa, `XA START 'd'`, `INSERT INTO item VALUES (7)`, `XA END 'd'`, `XA PREPARE 'd'`)
	m.Exec(t, "shop", `INSERT INTO item VALUES (8)`, `TRUNCATE TABLE kept`)
	ids(rec, 7)
	if st := r.src.Status(); st.PreparedXA != 1 {
		t.Errorf("status: %d prepared XA transactions, want 1", st.PreparedXA)
	}
	r.stop(t)
	rec = &recorder{}
	r = start(t, cfg, rec)
	run(xa, `XA COMMIT 'd'`)
	m.Exec(t, "shop", `INSERT INTO item VALUES (9)`)
	if got, _ := ids(rec, 2); fmt.Sprint(got) != "[7 9]" {
		t.Errorf("after a restart: rows %v, want [7 9]: the prepared transaction's, and nothing published before", got)
	}
	if st := r.src.Status(); st.PreparedXA != 0 {
		t.Errorf("status: %d prepared XA transactions, want 0", st.PreparedXA)
	}
}
