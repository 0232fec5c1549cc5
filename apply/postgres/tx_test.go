package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

const strictDDL = `CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, note text, qty integer CHECK (qty >= 0))`

// TestConnectionErrorsAreRetryable: an unreachable server and a lost
// connection give plain errors, and the Target reconnects.
func TestConnectionErrorsAreRetryable(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		tg, err := New(Config{Name: "down", DSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?connect_timeout=5", testenv.FreePort(t))}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		_, err = tg.Begin(applytest.Context(t), false)
		if err == nil || apply.IsRejected(err) || !strings.Contains(err.Error(), "connect to target down") {
			t.Errorf("Begin = %v, want a plain connection error", err)
		}
	})
	t.Run("lost", func(t *testing.T) {
		e := newEnv(t)
		e.exec(strictDDL)
		e.prepare(items)
		ctx := applytest.Context(t)
		tx, err := e.tg.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Apply(ctx, applytest.Good(items, 1)); err != nil {
			t.Fatal(err)
		}
		e.exec(fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND application_name = 'syncd'`, e.db))
		err = tx.Commit(ctx, applytest.Record(1))
		if err == nil || apply.IsRejected(err) {
			t.Fatalf("Commit over a lost connection = %v, want a plain error", err)
		}
		if err := e.run(false, applytest.Record(2), applytest.Good(items, 2)); err != nil {
			t.Fatalf("after reconnecting: %v", err)
		}
		if got := e.rows(`SELECT id FROM items`); !slices.Equal(got, []string{"2"}) {
			t.Errorf("items %q, want only 2", got)
		}
	})
}

// The tests every target must pass (see applytest.Suite), with what this
// engine adds.

func TestCommitIsAtomic(t *testing.T) {
	suite.CommitIsAtomic(t, applytest.Bad{Name: "bad value", Change: applytest.Change(items, capture.OpInsert, applytest.Key(52), "", `{"id":52,"name":"x","note":null,"qty":"many"}`)})
}

func TestSendAhead(t *testing.T) { suite.SendAhead(t, maxQueuedRows) }

func TestIsolateRejects(t *testing.T) { suite.IsolateRejects(t) }

func TestConstraintsAreRejected(t *testing.T) { suite.ConstraintsAreRejected(t) }

func TestOneTransactionAtATime(t *testing.T) { suite.OneTransactionAtATime(t) }

func TestPartialUpdateOfMissingRow(t *testing.T) { suite.PartialUpdateOfMissingRow(t) }

func TestRelandOfMissingRow(t *testing.T) { suite.RelandOfMissingRow(t) }

// snapshotOf returns a snapshot's changes of items: its truncate, then a
// read of each row, given as JSON.
func snapshotOf(rows ...string) []*apply.Change {
	changes := []*apply.Change{applytest.Change(items, capture.OpTruncate, "", "", "")}
	for _, r := range rows {
		c := applytest.Change(items, capture.OpRead, "", "", r)
		c.Key = map[string]json.RawMessage{"id": c.After["id"]}
		changes = append(changes, c)
	}
	return changes
}

// TestSnapshotCopy: the rows of a snapshot whose transaction truncated
// the table go by COPY, and arrive as they were, whatever their text
// holds; a read after another write of the table is upserted.
func TestSnapshotCopy(t *testing.T) {
	e := newEnv(t)
	e.exec(strictDDL, `INSERT INTO items VALUES (1, 'old', NULL, 1), (9, 'gone', NULL, 9)`)
	e.prepare(items)
	ctx := applytest.Context(t)
	stx, err := e.tg.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range snapshotOf(`{"id":1,"name":"tab\there\\back\nline\r","note":"\\N","qty":1}`,
		`{"id":2,"name":"","note":null,"qty":2}`, `{"id":3,"name":"ünï","note":"\\.","qty":3}`) {
		if err := stx.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if x := stx.(*tx); x.g.op != opCopy || x.g.rows != 3 {
		t.Errorf("the snapshot's rows are grouped as %c (%d rows), want a COPY of 3", x.g.op, x.g.rows)
	}
	if err := stx.Commit(ctx, applytest.Record(1)); err != nil {
		t.Fatal(err)
	}
	want := []string{"1|tab\there\\back\nline\r|\\N|1", "2||∅|2", "3|ünï|\\.|3"}
	if got := e.rows(`SELECT id, name, note, qty FROM items ORDER BY id`); !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}

	// A read after another write of the table is an upsert: the keys of
	// the copy may be there now.
	stx, err = e.tg.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stx.Rollback(ctx)
	if err := stx.Apply(ctx, applytest.Change(items, capture.OpInsert, `{"id":4}`, "", `{"id":4,"name":"four","note":null,"qty":4}`)); err != nil {
		t.Fatal(err)
	}
	if err := stx.Apply(ctx, snapshotOf(`{"id":2,"name":"two","note":null,"qty":2}`)[1]); err != nil {
		t.Fatal(err)
	}
	if x := stx.(*tx); x.g.op != plan.Upsert {
		t.Errorf("a read after an insert is grouped as %c, want an upsert", x.g.op)
	}
}

// TestLaterChunksCopy: the chunks of a copy after the one whose
// transaction truncated the table go by COPY too, in later transactions,
// as long as the table holds nothing but the copy's rows. A later chunk's
// row whose key another writer put in the table meanwhile fails the
// COPY, and the retry with row isolation (as the session does) writes
// the copy's values over it; the table's filling then ends. A row of a
// re-land (unchanged columns) updates only its columns and ends the
// filling too.
func TestLaterChunksCopy(t *testing.T) {
	e := newEnv(t)
	e.exec(strictDDL, `INSERT INTO items VALUES (1, 'old', NULL, 1)`)
	e.prepare(items)
	ctx := applytest.Context(t)
	read := func(row string, unchanged ...string) *apply.Change {
		c := applytest.Change(items, capture.OpRead, "", "", row, unchanged...)
		c.Key = map[string]json.RawMessage{"id": c.After["id"]}
		return c
	}
	// chunk applies a chunk as the session does: in one transaction,
	// again with row isolation if the target rejects it. It returns the
	// kind of the group of its last row and whether it was retried.
	chunk := func(pos capture.Position, changes ...*apply.Change) (plan.Op, bool) {
		t.Helper()
		x, err := e.tg.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		var op plan.Op
		for _, c := range changes {
			if err = x.Apply(ctx, c); err != nil {
				break
			}
			op = x.(*tx).g.op
		}
		if err == nil {
			err = x.Commit(ctx, applytest.Record(pos))
		}
		if err == nil {
			return op, false
		}
		if !apply.IsRejected(err) {
			t.Fatalf("chunk %d: %v", pos, err)
		}
		if err := e.run(true, applytest.Record(pos), changes...); err != nil {
			t.Fatalf("chunk %d, isolated: %v", pos, err)
		}
		return op, true
	}

	if op, retried := chunk(1, snapshotOf(`{"id":1,"name":"a","note":"n1","qty":1}`, `{"id":2,"name":"b","note":null,"qty":2}`)...); op != opCopy || retried {
		t.Fatalf("first chunk: %c, retried %v", op, retried)
	}
	if op, retried := chunk(2, read(`{"id":3,"name":"c","note":null,"qty":3}`), read(`{"id":4,"name":"d","note":null,"qty":4}`)); op != opCopy || retried {
		t.Errorf("second chunk: grouped as %c (retried %v), want a COPY", op, retried)
	}
	e.exec(`INSERT INTO items VALUES (6, 'theirs', 'x', 60)`)
	if op, retried := chunk(3, read(`{"id":5,"name":"e","note":null,"qty":5}`), read(`{"id":6,"name":"f","note":null,"qty":6}`)); op != opCopy || !retried {
		t.Errorf("third chunk, a key already there: grouped as %c (retried %v), want a COPY, retried", op, retried)
	}
	if op, _ := chunk(4, read(`{"id":7,"name":"g","note":null,"qty":7}`)); op != plan.Upsert {
		t.Errorf("after a retried chunk, a read is grouped as %c, want an upsert", op)
	}
	want := []string{"1|a|n1|1", "2|b|∅|2", "3|c|∅|3", "4|d|∅|4", "5|e|∅|5", "6|f|∅|6", "7|g|∅|7"}
	if got := e.rows(`SELECT id, name, note, qty FROM items ORDER BY id`); !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}

	// A new copy; a re-land of row 1 leaves its note, and ends the filling.
	chunk(5, snapshotOf(`{"id":1,"name":"a","note":"kept","qty":1}`)...)
	if op, _ := chunk(6, read(`{"id":1,"name":"A","qty":10}`, "note")); op == opCopy || op == plan.Upsert {
		t.Errorf("a re-land's row is grouped as %c, want an update of its columns", op)
	}
	if op, _ := chunk(7, read(`{"id":2,"name":"b","note":null,"qty":2}`)); op != plan.Upsert {
		t.Errorf("after a re-land, a read is grouped as %c, want an upsert", op)
	}
	want = []string{"1|A|kept|10", "2|b|∅|2"}
	if got := e.rows(`SELECT id, name, note, qty FROM items ORDER BY id`); !slices.Equal(got, want) {
		t.Errorf("after the re-land, items %q, want %q", got, want)
	}
}

// TestSnapshotCopyRejects: a row the target refuses fails the COPY of its
// batch, as a rejected batch, and row isolation then finds that row, as
// the session does (apply/consume.go); a key that comes twice fails the
// COPY, and isolation upserts it.
func TestSnapshotCopyRejects(t *testing.T) {
	e := newEnv(t)
	e.exec(strictDDL)
	e.prepare(items)
	bad := snapshotOf(`{"id":1,"name":"a","note":null,"qty":1}`, `{"id":2,"name":"b","note":null,"qty":-2}`, `{"id":3,"name":"c","note":null,"qty":3}`)
	err := e.run(false, applytest.Record(1), bad...)
	var rej *apply.RejectedError
	if !errors.As(err, &rej) || !strings.Contains(err.Error(), "insert 3 rows of public.items") {
		t.Fatalf("batch: error %v, want a RejectedError of the COPY", err)
	}
	tx, err := e.tg.Begin(applytest.Context(t), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range bad {
		err := tx.Apply(applytest.Context(t), c)
		if c == bad[2] {
			if !errors.As(err, &rej) || rej.Change != c {
				t.Fatalf("isolated: Apply(%v) = %v, want a RejectedError of it", c.After, err)
			}
		} else if err != nil {
			t.Fatalf("isolated: Apply(%v) = %v", c.After, err)
		}
	}
	if err := tx.Commit(applytest.Context(t), applytest.Record(1)); err != nil {
		t.Fatal(err)
	}
	if got, want := e.rows(`SELECT id, qty FROM items ORDER BY id`), []string{"1|1", "3|3"}; !slices.Equal(got, want) {
		t.Errorf("after isolation, items %q, want %q", got, want)
	}

	twice := snapshotOf(`{"id":1,"name":"a","note":null,"qty":1}`, `{"id":1,"name":"b","note":null,"qty":2}`)
	if err := e.run(false, applytest.Record(2), twice...); !errors.As(err, &rej) {
		t.Fatalf("a key twice: error %v, want a RejectedError of the COPY", err)
	}
	if err := e.run(true, applytest.Record(2), twice...); err != nil {
		t.Fatalf("a key twice, isolated: %v", err)
	}
	if got, want := e.rows(`SELECT id, name FROM items ORDER BY id`), []string{"1|b"}; !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}
}

// TestTruncateReferenced: PostgreSQL refuses to TRUNCATE a table that a
// foreign key of another table references (SQLSTATE 0A000), even an
// empty one, so a snapshot of such a table empties it with DELETE, and
// its rows still go by COPY. A deferred foreign key lets the snapshot
// delete a parent that a row references and write it again; a key that
// is not deferred refuses that delete. A table that nothing references
// is truncated.
func TestTruncateReferenced(t *testing.T) {
	e := newEnv(t)
	e.exec(strictDDL, `CREATE TABLE orders (id integer PRIMARY KEY,
		item_id integer REFERENCES items DEFERRABLE INITIALLY DEFERRED)`,
		`CREATE TABLE notes (id integer PRIMARY KEY, item_id integer REFERENCES items)`)
	e.prepare(items, pairs)
	ctx := applytest.Context(t)
	stx, err := e.tg.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range snapshotOf(`{"id":1,"name":"a","note":null,"qty":1}`, `{"id":2,"name":"b","note":null,"qty":2}`) {
		if err := stx.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if x := stx.(*tx); x.g.op != opCopy {
		t.Errorf("the snapshot's rows are grouped as %c, want a COPY", x.g.op)
	}
	if err := stx.Commit(ctx, applytest.Record(1)); err != nil {
		t.Fatalf("snapshot of a referenced table: %v", err)
	}
	if got, want := e.rows(`SELECT id, name FROM items ORDER BY id`), []string{"1|a", "2|b"}; !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}

	e.exec(`INSERT INTO orders VALUES (10, 2)`)
	again := snapshotOf(`{"id":2,"name":"B","note":null,"qty":2}`)
	if err := e.run(false, applytest.Record(2), again...); err != nil {
		t.Fatalf("snapshot again, with an order for item 2: %v", err)
	}
	if got, want := e.rows(`SELECT id, name FROM items ORDER BY id`), []string{"2|B"}; !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}

	e.exec(`INSERT INTO notes VALUES (20, 2)`)
	var rej *apply.RejectedError
	if err := e.run(false, applytest.Record(3), again...); !errors.As(err, &rej) || !strings.Contains(err.Error(), "23503") {
		t.Errorf("snapshot again, with a note for item 2 (not deferred): error %v, want a RejectedError, SQLSTATE 23503", err)
	}

	if got := e.tg.tables[pairs.Target].statement(plan.Truncate, nil); got != `TRUNCATE "public"."pairs"` {
		t.Errorf("a table nothing references is emptied by %q, want a TRUNCATE", got)
	}
}

// TestResyncKeepsReaders: a resync's truncate (apply.Change.Resync) is a
// DELETE, so it commits while another session reads the table, where a
// TRUNCATE would wait for that reader; its rows still go by COPY and the
// table ends with the copy's rows only.
func TestResyncKeepsReaders(t *testing.T) {
	e := newEnv(t)
	e.exec(strictDDL, `INSERT INTO items VALUES (1, 'old', NULL, 1), (9, 'by hand', NULL, 9)`)
	e.prepare(items)
	ctx := applytest.Context(t)
	reader, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(ctx)
	rtx, err := reader.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rtx.Rollback(ctx)
	if _, err := rtx.Exec(ctx, `SELECT * FROM items`); err != nil { // holds ACCESS SHARE until its end
		t.Fatal(err)
	}

	changes := snapshotOf(`{"id":1,"name":"one","note":null,"qty":1}`, `{"id":2,"name":"two","note":null,"qty":2}`)
	for _, c := range changes {
		c.Resync = true
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stx, err := e.tg.Begin(wctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if err := stx.Apply(wctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if x := stx.(*tx); x.g.op != opCopy {
		t.Errorf("the resync's rows are grouped as %c, want a COPY", x.g.op)
	}
	if err := stx.Commit(wctx, applytest.Record(1)); err != nil {
		t.Fatalf("commit a resync while a reader holds the table: %v", err)
	}
	want := []string{"1|one|∅|1", "2|two|∅|2"}
	if got := e.rows(`SELECT id, name, note, qty FROM items ORDER BY id`); !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}
}
