package mysql

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

const strictDDL = `CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, note varchar(5), qty integer CHECK (qty >= 0))`

func good(id int) *apply.Change {
	return applytest.Change(items, capture.OpInsert, applytest.Key(id), "", fmt.Sprintf(`{"id":%d,"name":"n%d","note":null,"qty":%d}`, id, id, id))
}

// TestCommitIsAtomic: a rejected row in a batch leaves nothing of the
// transaction, nor its checkpoint.
func TestCommitIsAtomic(t *testing.T) {
	tests := []struct {
		name string
		bad  *apply.Change
		// wantChange: the error names the change (it failed alone or
		// before reaching the server).
		wantChange bool
	}{
		{name: "not null", bad: applytest.Change(items, capture.OpInsert, applytest.Key(50), "", `{"id":50,"name":null,"note":null,"qty":1}`)},
		{name: "check", bad: applytest.Change(items, capture.OpUpdate, applytest.Key(51), "", `{"id":51,"name":"x","note":null,"qty":-1}`)},
		{name: "too long", bad: applytest.Change(items, capture.OpUpdate, applytest.Key(51), "", `{"id":51,"name":"x","note":"123456","qty":1}`)},
		{name: "out of range", bad: applytest.Change(items, capture.OpUpdate, applytest.Key(51), "", `{"id":51,"name":"x","note":null,"qty":99999999999}`)},
		{name: "bad value", bad: applytest.Change(items, capture.OpInsert, applytest.Key(52), "", `{"id":52,"name":"x","note":null,"qty":"many"}`), wantChange: true},
		{name: "value conversion", bad: applytest.Change(items, capture.OpInsert, applytest.Key(53), "", `{"id":53,"name":"x","note":null,"qty":{"n":1}}`), wantChange: true},
		{name: "unknown column", bad: applytest.Change(items, capture.OpInsert, applytest.Key(54), "", `{"id":54,"name":"x","nope":1}`), wantChange: true},
		{name: "alone in its statement", bad: applytest.Change(items, capture.OpDelete, `{"id":"x"}`, "", ""), wantChange: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.exec(strictDDL)
			e.prepare(items)
			ctx := applytest.Context(t)
			tx, err := e.tg.Begin(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			changes := []*apply.Change{good(1), good(2), tt.bad, good(3)}
			for _, c := range changes {
				if err = tx.Apply(ctx, c); err != nil {
					break
				}
			}
			if err == nil {
				err = tx.Commit(ctx, applytest.Record(1))
			}
			var rej *apply.RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("error = %v, want a RejectedError", err)
			}
			t.Logf("error: %v", err)
			if tt.wantChange && rej.Change != tt.bad {
				t.Errorf("RejectedError.Change = %v, want the bad change", rej.Change)
			}
			if err := tx.Apply(ctx, good(4)); !errors.Is(err, ErrTxDone) {
				t.Errorf("Apply after the error = %v, want ErrTxDone", err)
			}
			if err := tx.Commit(ctx, applytest.Record(1)); !errors.Is(err, ErrTxDone) {
				t.Errorf("Commit after the error = %v, want ErrTxDone", err)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Errorf("Rollback after the error = %v", err)
			}
			if got := e.rows(`SELECT count(*) FROM items`); got[0] != "0" {
				t.Errorf("%s rows in items, want 0", got[0])
			}
			if _, ok, err := e.tg.Checkpoint(ctx, "s", "app"); ok || err != nil {
				t.Errorf("Checkpoint = ok %v, err %v; want none", ok, err)
			}
			// The target goes on.
			if err := e.run(false, applytest.Record(2), good(5)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSendAhead: a full group goes to the server while later changes are
// converted. A row it rejects fails a later Apply, and nothing of the
// transaction stays; without one, every row commits.
func TestSendAhead(t *testing.T) {
	e := newEnv(t)
	e.exec(strictDDL)
	e.prepare(items)
	ctx := applytest.Context(t)
	const rows = 2500
	run := func(bad int) (failedAt int, err error) {
		tx, err := e.tg.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		for id := 1; id <= rows; id++ {
			c := good(id)
			if id == bad {
				c = applytest.Change(items, capture.OpInsert, applytest.Key(id), "", fmt.Sprintf(`{"id":%d,"name":"x","note":null,"qty":-1}`, id))
			}
			if err := tx.Apply(ctx, c); err != nil {
				return id, err
			}
		}
		return 0, tx.Commit(ctx, applytest.Record(1))
	}

	failedAt, err := run(500)
	var rej *apply.RejectedError
	if !errors.As(err, &rej) || !strings.Contains(err.Error(), "1000 rows of") {
		t.Fatalf("error = %v, want a RejectedError for the statement of rows 1 to 1000", err)
	}
	if failedAt <= maxGroupRows || failedAt > rows {
		t.Errorf("the rejection came from Apply of row %d, want one after row %d: the first rows go ahead", failedAt, maxGroupRows)
	}
	if got := e.rows(`SELECT count(*) FROM items`); got[0] != "0" {
		t.Errorf("%s rows in items after the rejection, want 0", got[0])
	}

	if _, err := run(0); err != nil {
		t.Fatal(err)
	}
	if got, want := e.rows(`SELECT count(*), sum(qty) FROM items`)[0], fmt.Sprintf("%d|%d", rows, rows*(rows+1)/2); got != want {
		t.Errorf("items holds count|sum(qty) %s, want %s", got, want)
	}
}

// TestTruncateIsTransactional: a truncate is undone with the rest of a
// transaction that fails (MySQL's TRUNCATE would have committed it).
func TestTruncateIsTransactional(t *testing.T) {
	e := newEnv(t)
	e.exec(strictDDL, `INSERT INTO items VALUES (1, 'one', NULL, 1)`)
	e.prepare(items)
	bad := applytest.Change(items, capture.OpInsert, applytest.Key(2), "", `{"id":2,"name":null,"note":null,"qty":1}`)
	err := e.run(false, applytest.Record(1), applytest.Change(items, capture.OpTruncate, "", "", ""), good(3), bad)
	if !apply.IsRejected(err) {
		t.Fatalf("error = %v, want a RejectedError", err)
	}
	if got := e.rows(`SELECT id FROM items`); !slices.Equal(got, []string{"1"}) {
		t.Errorf("items %q, want the row from before the transaction", got)
	}
}

// TestIsolateRejects: with isolate, rejected changes fail alone and the
// others commit.
func TestIsolateRejects(t *testing.T) {
	e := newEnv(t)
	e.exec(strictDDL, `CREATE TABLE logs (msg text NOT NULL, n integer)`)
	e.prepare(items, logs)
	ctx := applytest.Context(t)
	tx, err := e.tg.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	notNull := applytest.Change(items, capture.OpInsert, applytest.Key(2), "", `{"id":2,"name":null,"note":null,"qty":1}`)
	check := applytest.Change(items, capture.OpUpdate, applytest.Key(1), "", `{"id":1,"name":"x","note":null,"qty":-5}`)
	object := applytest.Change(items, capture.OpInsert, applytest.Key(3), "", `{"id":3,"name":{"a":1},"note":null,"qty":1}`)
	tooLong := applytest.Change(items, capture.OpInsert, applytest.Key(6), "", `{"id":6,"name":"x","note":"123456","qty":1}`)
	// A keyless update whose insert fails must not delete the old row.
	keyless := applytest.Change(logs, capture.OpUpdate, "", `{"msg":"keep","n":1}`, `{"msg":null,"n":2}`)
	changes := []struct {
		c    *apply.Change
		want bool // rejected
	}{
		{good(1), false}, {notNull, true}, {applytest.Change(logs, capture.OpInsert, "", "", `{"msg":"keep","n":1}`), false},
		{check, true}, {good(4), false}, {object, true}, {keyless, true}, {tooLong, true}, {good(5), false},
	}
	for _, c := range changes {
		err := tx.Apply(ctx, c.c)
		var rej *apply.RejectedError
		switch {
		case !c.want && err != nil:
			t.Fatalf("Apply(%v) = %v", c.c, err)
		case c.want && !errors.As(err, &rej):
			t.Fatalf("Apply(%v) = %v, want a RejectedError", c.c, err)
		case c.want && rej.Change != c.c:
			t.Errorf("RejectedError.Change = %v, want %v", rej.Change, c.c)
		}
	}
	if err := tx.Commit(ctx, applytest.Record(7)); err != nil {
		t.Fatal(err)
	}
	if got, want := e.rows(`SELECT id, name, qty FROM items ORDER BY id`), []string{"1|n1|1", "4|n4|4", "5|n5|5"}; !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}
	if got, want := e.rows(`SELECT * FROM logs`), []string{"keep|1"}; !slices.Equal(got, want) {
		t.Errorf("logs %q, want %q", got, want)
	}
	if rec, ok, err := e.tg.Checkpoint(ctx, "s", "app"); err != nil || !ok || rec.Position != 7 {
		t.Errorf("Checkpoint = %+v, %v, %v", rec, ok, err)
	}
}

// TestConstraintsAreRejected: a unique index besides the key, and a
// foreign key, reject rows that violate them, in batches and isolated;
// an upsert never overwrites the other row that holds its unique value.
func TestConstraintsAreRejected(t *testing.T) {
	users := applytest.Schema("users", []string{"id"}, "id integer", "email text")
	orders := applytest.Schema("orders", []string{"id"}, "id integer", "user_id integer")
	for _, isolate := range []bool{false, true} {
		for _, tt := range []struct {
			name string
			bad  *apply.Change
		}{
			{"unique on insert", applytest.Change(users, capture.OpInsert, `{"id":3}`, "", `{"id":3,"email":"a@x"}`)},
			{"unique on update", applytest.Change(users, capture.OpUpdate, `{"id":2}`, "", `{"id":2,"email":"a@x"}`)},
			{"foreign key", applytest.Change(orders, capture.OpInsert, `{"id":1}`, "", `{"id":1,"user_id":9}`)},
			{"referenced row", applytest.Change(users, capture.OpDelete, `{"id":1}`, `{"id":1}`, "")},
		} {
			t.Run(fmt.Sprintf("isolate=%v/%s", isolate, tt.name), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				e.exec(`CREATE TABLE users (id integer PRIMARY KEY, email varchar(100) UNIQUE)`,
					`CREATE TABLE orders (id integer PRIMARY KEY, user_id integer REFERENCES users (id))`,
					`INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x')`, `INSERT INTO orders VALUES (7, 1)`)
				e.prepare(users, orders)
				err := e.run(isolate, applytest.Record(1), tt.bad)
				var rej *apply.RejectedError
				if !errors.As(err, &rej) {
					t.Fatalf("error = %v, want a RejectedError", err)
				}
				if rej.Change != tt.bad {
					t.Errorf("RejectedError.Change = %v, want the bad change", rej.Change)
				}
				t.Logf("error: %v", err)
				if got, want := e.rows(`SELECT * FROM users ORDER BY id`), []string{"1|a@x", "2|b@x"}; !slices.Equal(got, want) {
					t.Errorf("users %q, want %q", got, want)
				}
			})
		}
	}
}

// TestConnectionErrorsAreRetryable: an unreachable server and a lost
// connection give plain errors, and the Target reconnects.
func TestConnectionErrorsAreRetryable(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		tg, err := New(Config{Name: "down", DSN: fmt.Sprintf("root@tcp(127.0.0.1:%d)/x?timeout=5s", testenv.FreePort(t))}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		_, err = tg.Begin(applytest.Context(t), false)
		if err == nil || apply.IsRejected(err) || !strings.Contains(err.Error(), "connect to target down") {
			t.Errorf("Begin = %v, want a plain connection error", err)
		}
	})
	t.Run("killed", func(t *testing.T) {
		e := newEnv(t)
		e.exec(strictDDL)
		e.prepare(items)
		ctx := applytest.Context(t)
		tx, err := e.tg.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Apply(ctx, good(1)); err != nil {
			t.Fatal(err)
		}
		ids := e.rows(`SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()`, e.db)
		if len(ids) != 1 {
			t.Fatalf("target connections %q, want one", ids)
		}
		e.exec("KILL " + ids[0])
		err = tx.Commit(ctx, applytest.Record(1))
		if err == nil || apply.IsRejected(err) {
			t.Fatalf("Commit over a killed connection = %v, want a plain error", err)
		}
		t.Logf("error: %v", err)
		if err := e.run(false, applytest.Record(2), good(2)); err != nil {
			t.Fatalf("after reconnecting: %v", err)
		}
		if got := e.rows(`SELECT id FROM items`); !slices.Equal(got, []string{"2"}) {
			t.Errorf("items %q, want only 2", got)
		}
	})
}

// TestServerRestart: a server stopped in the middle of a transaction
// fails it with a retryable error, and once the server is back the next
// transaction works, with nothing of the first.
func TestServerRestart(t *testing.T) {
	m := testenv.StartMariaDB(t, ownTmpdir(t))
	e := newEnvOn(t, m)
	e.exec(strictDDL)
	e.prepare(items)
	ctx := applytest.Context(t)
	tx, err := e.tg.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1500 { // one statement sent, one grouped
		if err := tx.Apply(ctx, good(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	m.Stop(t)
	err = tx.Apply(ctx, good(2000))
	if err == nil {
		err = tx.Commit(ctx, applytest.Record(1))
	}
	if err == nil || apply.IsRejected(err) {
		t.Fatalf("Commit with the server down = %v, want a plain error", err)
	}
	t.Logf("error: %v", err)
	if _, err := e.tg.Begin(ctx, false); err == nil || apply.IsRejected(err) {
		t.Fatalf("Begin with the server down = %v, want a plain error", err)
	}
	m.Start(t)
	if err := e.run(false, applytest.Record(2), good(1)); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if got := e.rows(`SELECT id FROM items`); !slices.Equal(got, []string{"1"}) {
		t.Errorf("items %q, want only 1", got)
	}
	if rec, ok, err := e.tg.Checkpoint(ctx, "s", "app"); err != nil || !ok || rec.Position != 2 {
		t.Errorf("Checkpoint = %+v, %v, %v", rec, ok, err)
	}
}

// TestOneTransactionAtATime: the connection serves one transaction.
func TestOneTransactionAtATime(t *testing.T) {
	e := newEnv(t)
	e.prepare(items)
	ctx := applytest.Context(t)
	tx, err := e.tg.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tg.Begin(ctx, false); err == nil {
		t.Error("second Begin succeeded")
	}
	if err := e.tg.Prepare(ctx, "s", nil); err == nil {
		t.Error("Prepare during a transaction succeeded")
	}
	if _, _, err := e.tg.Checkpoint(ctx, "s", "app"); err == nil {
		t.Error("Checkpoint during a transaction succeeded")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Errorf("second Rollback = %v", err)
	}
	if err := e.run(false, applytest.Record(1)); err != nil {
		t.Fatal(err)
	}
}

// TestPartialUpdateOfMissingRow: an update that leaves values out
// (unchanged) cannot create a missing row: batched, the transaction fails
// as rejected, naming the fix; isolated, the change alone is rejected.
// Rows that exist keep the left-out values.
func TestPartialUpdateOfMissingRow(t *testing.T) {
	for _, isolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("isolate=%v", isolate), func(t *testing.T) {
			e := newEnv(t)
			e.exec(`CREATE TABLE items (id integer PRIMARY KEY, name text, note text, qty integer)`,
				`INSERT INTO items VALUES (1, 'one', 'big note', 1), (2, 'two', 'other note', 2)`)
			its := e.in(items)
			e.prepare(its)
			changes := []*apply.Change{
				applytest.Change(its, capture.OpUpdate, `{"id":1}`, "", `{"id":1,"name":"uno","qty":11}`, "note"),
				applytest.Change(its, capture.OpUpdate, `{"id":3}`, "", `{"id":3,"name":"tres","qty":3}`, "note"),
				applytest.Change(its, capture.OpUpdate, `{"id":2}`, "", `{"id":2,"name":"dos","qty":22}`, "note"),
			}
			var err error
			if isolate { // the rejected change fails alone; the others commit
				ctx := applytest.Context(t)
				tx, berr := e.tg.Begin(ctx, true)
				if berr != nil {
					t.Fatal(berr)
				}
				for _, c := range changes {
					if aerr := tx.Apply(ctx, c); aerr != nil {
						var rej *apply.RejectedError
						if !errors.As(aerr, &rej) || rej.Change != changes[1] {
							t.Fatalf("Apply = %v, want a RejectedError for the missing row", aerr)
						}
						err = aerr
					}
				}
				if cerr := tx.Commit(ctx, applytest.Record(1)); cerr != nil {
					t.Fatal(cerr)
				}
			} else {
				err = e.run(false, applytest.Record(1), changes...)
			}
			if !apply.IsRejected(err) || !strings.Contains(err.Error(), "1 rows are not at the target") || !strings.Contains(err.Error(), "REPLICA IDENTITY FULL") {
				t.Fatalf("run = %v, want a rejected change naming the missing row and the fix", err)
			}
			want := []string{"1|one|big note|1", "2|two|other note|2"}
			if isolate { // the others are applied
				want = []string{"1|uno|big note|11", "2|dos|other note|22"}
			}
			if got := e.rows(`SELECT id, name, note, qty FROM items ORDER BY id`); !slices.Equal(got, want) {
				t.Errorf("items %q, want %q", got, want)
			}
		})
	}
}
