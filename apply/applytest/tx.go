package applytest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

// Good is an insert of row id into items that every target takes.
func Good(items *router.TableSchema, id int) *apply.Change {
	return Change(items, capture.OpInsert, Key(id), "", fmt.Sprintf(`{"id":%d,"name":"n%d","note":null,"qty":%d}`, id, id, id))
}

// Bad is a change of the items table of Tables, as StrictDDL makes it,
// that a target rejects.
type Bad struct {
	Name   string
	Change *apply.Change
	// Named: the error names the change (it failed alone, or before it
	// reached the server).
	Named bool
}

// prepare runs ddl at e and prepares tables.
func prepare(t *testing.T, e Env, ddl []string, tables ...*router.TableSchema) {
	t.Helper()
	e.Exec(ddl...)
	if err := e.Target.Prepare(Context(t), "s", tables); err != nil {
		t.Fatalf("prepare: %v", err)
	}
}

// CommitIsAtomic: a rejected row in a batch leaves nothing of the
// transaction, nor its checkpoint; the transaction is over, the target
// goes on. bad are rejected changes the engine adds to those of every
// target.
func (s Suite) CommitIsAtomic(t *testing.T, bad ...Bad) {
	items, _, _ := Tables(s.Schema)
	tests := append([]Bad{
		{Name: "not null", Change: Change(items, capture.OpInsert, Key(50), "", `{"id":50,"name":null,"note":null,"qty":1}`)},
		{Name: "check", Change: Change(items, capture.OpUpdate, Key(51), "", `{"id":51,"name":"x","note":null,"qty":-1}`)},
		{Name: "value conversion", Change: Change(items, capture.OpInsert, Key(53), "", `{"id":53,"name":"x","note":null,"qty":{"n":1}}`), Named: true},
		{Name: "unknown column", Change: Change(items, capture.OpInsert, Key(54), "", `{"id":54,"name":"x","nope":1}`), Named: true},
		{Name: "alone in its statement", Change: Change(items, capture.OpDelete, `{"id":"x"}`, "", ""), Named: true},
	}, bad...)
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			e := s.NewEnv(t)
			prepare(t, e, []string{s.StrictDDL}, items)
			ctx := Context(t)
			tx, err := e.Target.Begin(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			changes := []*apply.Change{Good(items, 1), Good(items, 2), tt.Change, Good(items, 3)}
			for _, c := range changes {
				if err = tx.Apply(ctx, c); err != nil {
					break
				}
			}
			if err == nil {
				err = tx.Commit(ctx, Record(1))
			}
			var rej *apply.RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("error = %v, want a RejectedError", err)
			}
			t.Logf("error: %v", err)
			if tt.Named && rej.Change != tt.Change {
				t.Errorf("RejectedError.Change = %v, want the bad change", rej.Change)
			}
			if err := tx.Apply(ctx, Good(items, 4)); !errors.Is(err, apply.ErrTxDone) {
				t.Errorf("Apply after the error = %v, want %v", err, apply.ErrTxDone)
			}
			if err := tx.Commit(ctx, Record(1)); !errors.Is(err, apply.ErrTxDone) {
				t.Errorf("Commit after the error = %v, want %v", err, apply.ErrTxDone)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Errorf("Rollback after the error = %v", err)
			}
			if got := e.Rows(`SELECT count(*) FROM items`); got[0] != "0" {
				t.Errorf("%s rows in items, want 0", got[0])
			}
			if _, ok, err := e.Target.Checkpoint(ctx, "s", "app"); ok || err != nil {
				t.Errorf("Checkpoint = ok %v, err %v; want none", ok, err)
			}
			// The target goes on.
			if err := Run(ctx, e.Target, false, Record(2), Good(items, 5)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// SendAhead: the first ahead rows go to the server while later changes
// are converted. A row they hold that the target rejects fails a later
// Apply, and nothing of the transaction stays; without one, every row
// commits.
func (s Suite) SendAhead(t *testing.T, ahead int) {
	items, _, _ := Tables(s.Schema)
	e := s.NewEnv(t)
	prepare(t, e, []string{s.StrictDDL}, items)
	ctx := Context(t)
	rows := 2*ahead + ahead/2
	run := func(bad int) (failedAt int, err error) {
		tx, err := e.Target.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		for id := 1; id <= rows; id++ {
			c := Good(items, id)
			if id == bad {
				c = Change(items, capture.OpInsert, Key(id), "", fmt.Sprintf(`{"id":%d,"name":"x","note":null,"qty":-1}`, id))
			}
			if err := tx.Apply(ctx, c); err != nil {
				return id, err
			}
		}
		return 0, tx.Commit(ctx, Record(1))
	}

	failedAt, err := run(ahead / 2)
	var rej *apply.RejectedError
	if !errors.As(err, &rej) || !strings.Contains(err.Error(), fmt.Sprintf("%d rows of", ahead)) {
		t.Fatalf("error = %v, want a RejectedError for the statement of rows 1 to %d", err, ahead)
	}
	if failedAt <= ahead || failedAt > rows {
		t.Errorf("the rejection came from Apply of row %d, want one after row %d: the first rows go ahead", failedAt, ahead)
	}
	if got := e.Rows(`SELECT count(*) FROM items`); got[0] != "0" {
		t.Errorf("%s rows in items after the rejection, want 0", got[0])
	}

	if _, err := run(0); err != nil {
		t.Fatal(err)
	}
	if got, want := e.Rows(`SELECT count(*), sum(qty) FROM items`)[0], fmt.Sprintf("%d|%d", rows, rows*(rows+1)/2); got != want {
		t.Errorf("items holds count|sum(qty) %s, want %s", got, want)
	}
}

// IsolateRejects: with isolate, rejected changes fail alone and the
// others commit, with the checkpoint. bad are rejected changes of items
// the engine adds to those of every target.
func (s Suite) IsolateRejects(t *testing.T, bad ...*apply.Change) {
	items, _, logs := Tables(s.Schema)
	e := s.NewEnv(t)
	prepare(t, e, []string{s.StrictDDL, `CREATE TABLE logs (msg text NOT NULL, n integer)`}, items, logs)
	ctx := Context(t)
	tx, err := e.Target.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	notNull := Change(items, capture.OpInsert, Key(2), "", `{"id":2,"name":null,"note":null,"qty":1}`)
	check := Change(items, capture.OpUpdate, Key(1), "", `{"id":1,"name":"x","note":null,"qty":-5}`)
	object := Change(items, capture.OpInsert, Key(3), "", `{"id":3,"name":{"a":1},"note":null,"qty":1}`)
	// A keyless update whose insert fails must not delete the old row.
	keyless := Change(logs, capture.OpUpdate, "", `{"msg":"keep","n":1}`, `{"msg":null,"n":2}`)
	// An update without its unchanged values cannot create its row.
	partial := Change(items, capture.OpUpdate, Key(6), "", `{"id":6,"name":"six","qty":6}`, "note")
	type step struct {
		c    *apply.Change
		want bool // rejected
	}
	steps := []step{
		{Good(items, 1), false}, {notNull, true}, {Change(logs, capture.OpInsert, "", "", `{"msg":"keep","n":1}`), false},
		{check, true}, {Good(items, 4), false}, {object, true}, {keyless, true}, {partial, true},
	}
	for _, c := range bad {
		steps = append(steps, step{c, true})
	}
	steps = append(steps, step{Good(items, 5), false})
	for _, st := range steps {
		err := tx.Apply(ctx, st.c)
		var rej *apply.RejectedError
		switch {
		case !st.want && err != nil:
			t.Fatalf("Apply(%v) = %v", st.c, err)
		case st.want && !errors.As(err, &rej):
			t.Fatalf("Apply(%v) = %v, want a RejectedError", st.c, err)
		case st.want && rej.Change != st.c:
			t.Errorf("RejectedError.Change = %v, want %v", rej.Change, st.c)
		}
	}
	if err := tx.Commit(ctx, Record(7)); err != nil {
		t.Fatal(err)
	}
	if got, want := e.Rows(`SELECT id, name, qty FROM items ORDER BY id`), []string{"1|n1|1", "4|n4|4", "5|n5|5"}; !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}
	if got, want := e.Rows(`SELECT * FROM logs`), []string{"keep|1"}; !slices.Equal(got, want) {
		t.Errorf("logs %q, want %q", got, want)
	}
	if rec, ok, err := e.Target.Checkpoint(ctx, "s", "app"); err != nil || !ok || rec.Position != 7 {
		t.Errorf("Checkpoint = %+v, %v, %v", rec, ok, err)
	}
}

// ConstraintsAreRejected: a unique index besides the key, and a foreign
// key, reject rows that violate them, in batches and isolated; an upsert
// never overwrites the other row that holds its unique value.
func (s Suite) ConstraintsAreRejected(t *testing.T) {
	prefix := ""
	if s.Schema != "" {
		prefix = s.Schema + "."
	}
	users := Schema(prefix+"users", []string{"id"}, "id integer", "email text")
	orders := Schema(prefix+"orders", []string{"id"}, "id integer", "user_id integer")
	for _, isolate := range []bool{false, true} {
		for _, tt := range []struct {
			name string
			bad  *apply.Change
		}{
			{"unique on insert", Change(users, capture.OpInsert, `{"id":3}`, "", `{"id":3,"email":"a@x"}`)},
			{"unique on update", Change(users, capture.OpUpdate, `{"id":2}`, "", `{"id":2,"email":"a@x"}`)},
			{"foreign key", Change(orders, capture.OpInsert, `{"id":1}`, "", `{"id":1,"user_id":9}`)},
			{"referenced row", Change(users, capture.OpDelete, `{"id":1}`, `{"id":1}`, "")},
		} {
			t.Run(fmt.Sprintf("isolate=%v/%s", isolate, tt.name), func(t *testing.T) {
				t.Parallel()
				e := s.NewEnv(t)
				prepare(t, e, []string{`CREATE TABLE users (id integer PRIMARY KEY, email varchar(100) UNIQUE)`,
					`CREATE TABLE orders (id integer PRIMARY KEY, user_id integer REFERENCES users (id))`,
					`INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x')`, `INSERT INTO orders VALUES (7, 1)`}, users, orders)
				err := Run(Context(t), e.Target, isolate, Record(1), tt.bad)
				var rej *apply.RejectedError
				if !errors.As(err, &rej) {
					t.Fatalf("error = %v, want a RejectedError", err)
				}
				if rej.Change != tt.bad {
					t.Errorf("RejectedError.Change = %v, want the bad change", rej.Change)
				}
				t.Logf("error: %v", err)
				if got, want := e.Rows(`SELECT * FROM users ORDER BY id`), []string{"1|a@x", "2|b@x"}; !slices.Equal(got, want) {
					t.Errorf("users %q, want %q", got, want)
				}
			})
		}
	}
}

// OneTransactionAtATime: a Target serves one transaction at a time;
// Rollback ends it, and again is a no-op.
func (s Suite) OneTransactionAtATime(t *testing.T) {
	items, _, _ := Tables(s.Schema)
	e := s.NewEnv(t)
	prepare(t, e, nil, items)
	ctx := Context(t)
	tx, err := e.Target.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Target.Begin(ctx, false); err == nil {
		t.Error("second Begin succeeded")
	}
	if err := e.Target.Prepare(ctx, "s", nil); err == nil {
		t.Error("Prepare during a transaction succeeded")
	}
	if _, _, err := e.Target.Checkpoint(ctx, "s", "app"); err == nil {
		t.Error("Checkpoint during a transaction succeeded")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Errorf("second Rollback = %v", err)
	}
	if err := Run(ctx, e.Target, false, Record(1)); err != nil {
		t.Fatal(err)
	}
}

// PartialUpdateOfMissingRow: an update that leaves values out
// (unchanged) cannot create a missing row: batched, the transaction fails
// as rejected, naming the fix; isolated, the change alone is rejected.
// Rows that exist keep the left-out values.
// twoItems returns a new Env whose target has items(id, name, note, qty)
// with rows 1 and 2, prepared.
func (s Suite) twoItems(t *testing.T, items *router.TableSchema) Env {
	e := s.NewEnv(t)
	prepare(t, e, []string{`CREATE TABLE items (id integer PRIMARY KEY, name text, note text, qty integer)`,
		`INSERT INTO items VALUES (1, 'one', 'big note', 1), (2, 'two', 'other note', 2)`}, items)
	return e
}

// RelandOfMissingRow: the partial rows of a re-land (reads with
// Unchanged values, a changed transform's backfill) update the rows the
// target has, in a batch and isolated alike; a row the target no longer
// has is skipped, not rejected, and counted (apply.SkipCounter).
func (s Suite) RelandOfMissingRow(t *testing.T) {
	items, _, _ := Tables(s.Schema)
	for _, isolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("isolate=%v", isolate), func(t *testing.T) {
			e := s.twoItems(t, items)
			ctx := Context(t)
			tx, err := e.Target.Begin(ctx, isolate)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*apply.Change{
				Change(items, capture.OpRead, `{"id":1}`, "", `{"id":1,"name":"uno"}`, "note", "qty"),
				Change(items, capture.OpRead, `{"id":3}`, "", `{"id":3,"name":"tres"}`, "note", "qty"),
				Change(items, capture.OpRead, `{"id":2}`, "", `{"id":2,"name":"dos"}`, "note", "qty"),
			} {
				if err := tx.Apply(ctx, c); err != nil {
					t.Fatalf("Apply = %v, want the missing row skipped", err)
				}
			}
			if err := tx.Commit(ctx, Record(1)); err != nil {
				t.Fatal(err)
			}
			sc, ok := tx.(apply.SkipCounter)
			if !ok {
				t.Fatalf("%T is no apply.SkipCounter", tx)
			}
			if n := sc.RelandSkipped(); n != 1 {
				t.Errorf("RelandSkipped = %d, want 1", n)
			}
			want := []string{"1|uno|big note|1", "2|dos|other note|2"}
			if got := e.Rows(`SELECT id, name, note, qty FROM items ORDER BY id`); !slices.Equal(got, want) {
				t.Errorf("items %q, want %q", got, want)
			}
		})
	}
}

func (s Suite) PartialUpdateOfMissingRow(t *testing.T) {
	items, _, _ := Tables(s.Schema)
	for _, isolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("isolate=%v", isolate), func(t *testing.T) {
			e := s.twoItems(t, items)
			changes := []*apply.Change{
				Change(items, capture.OpUpdate, `{"id":1}`, "", `{"id":1,"name":"uno","qty":11}`, "note"),
				Change(items, capture.OpUpdate, `{"id":3}`, "", `{"id":3,"name":"tres","qty":3}`, "note"),
				Change(items, capture.OpUpdate, `{"id":2}`, "", `{"id":2,"name":"dos","qty":22}`, "note"),
			}
			ctx := Context(t)
			var err error
			if isolate { // the rejected change fails alone; the others commit
				tx, berr := e.Target.Begin(ctx, true)
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
				if cerr := tx.Commit(ctx, Record(1)); cerr != nil {
					t.Fatal(cerr)
				}
			} else {
				err = Run(ctx, e.Target, false, Record(1), changes...)
			}
			if !apply.IsRejected(err) || !strings.Contains(err.Error(), "1 rows are not at the target") || !strings.Contains(err.Error(), "REPLICA IDENTITY FULL") {
				t.Fatalf("run = %v, want a rejected change naming the missing row and the fix", err)
			}
			want := []string{"1|one|big note|1", "2|two|other note|2"}
			if isolate { // the others are applied
				want = []string{"1|uno|big note|11", "2|dos|other note|22"}
			}
			if got := e.Rows(`SELECT id, name, note, qty FROM items ORDER BY id`); !slices.Equal(got, want) {
				t.Errorf("items %q, want %q", got, want)
			}
			if isolate {
				return
			}
			// Batched without the missing row, the others commit.
			if err := Run(ctx, e.Target, false, Record(2), changes[0], changes[2]); err != nil {
				t.Fatal(err)
			}
			want = []string{"1|uno|big note|11", "2|dos|other note|22"}
			if got := e.Rows(`SELECT id, name, note, qty FROM items ORDER BY id`); !slices.Equal(got, want) {
				t.Errorf("items %q, want %q", got, want)
			}
		})
	}
}
