package mysql

import (
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

// TestTruncateIsTransactional: a truncate is undone with the rest of a
// transaction that fails (MySQL's TRUNCATE would have committed it).
func TestTruncateIsTransactional(t *testing.T) {
	e := newEnv(t)
	e.exec(strictDDL, `INSERT INTO items VALUES (1, 'one', NULL, 1)`)
	e.prepare(items)
	bad := applytest.Change(items, capture.OpInsert, applytest.Key(2), "", `{"id":2,"name":null,"note":null,"qty":1}`)
	err := e.run(false, applytest.Record(1), applytest.Change(items, capture.OpTruncate, "", "", ""), applytest.Good(items, 3), bad)
	if !apply.IsRejected(err) {
		t.Fatalf("error = %v, want a RejectedError", err)
	}
	if got := e.rows(`SELECT id FROM items`); !slices.Equal(got, []string{"1"}) {
		t.Errorf("items %q, want the row from before the transaction", got)
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
		if err := tx.Apply(ctx, applytest.Good(items, 1)); err != nil {
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
		if err := e.run(false, applytest.Record(2), applytest.Good(items, 2)); err != nil {
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
		if err := tx.Apply(ctx, applytest.Good(items, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	m.Stop(t)
	err = tx.Apply(ctx, applytest.Good(items, 2000))
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
	if err := e.run(false, applytest.Record(2), applytest.Good(items, 1)); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if got := e.rows(`SELECT id FROM items`); !slices.Equal(got, []string{"1"}) {
		t.Errorf("items %q, want only 1", got)
	}
	if rec, ok, err := e.tg.Checkpoint(ctx, "s", "app"); err != nil || !ok || rec.Position != 2 {
		t.Errorf("Checkpoint = %+v, %v, %v", rec, ok, err)
	}
}

// The tests every target must pass (see applytest.Suite), with what this
// engine adds.

func TestCommitIsAtomic(t *testing.T) {
	suite.CommitIsAtomic(t,
		applytest.Bad{Name: "too long", Change: applytest.Change(items, capture.OpUpdate, applytest.Key(51), "", `{"id":51,"name":"x","note":"123456","qty":1}`)},
		applytest.Bad{Name: "out of range", Change: applytest.Change(items, capture.OpUpdate, applytest.Key(51), "", `{"id":51,"name":"x","note":null,"qty":99999999999}`)},
		applytest.Bad{Name: "bad value", Change: applytest.Change(items, capture.OpInsert, applytest.Key(52), "", `{"id":52,"name":"x","note":null,"qty":"many"}`), Named: true})
}

func TestSendAhead(t *testing.T) { suite.SendAhead(t, maxGroupRows) }

func TestIsolateRejects(t *testing.T) {
	suite.IsolateRejects(t, applytest.Change(items, capture.OpInsert, applytest.Key(6), "", `{"id":6,"name":"x","note":"123456","qty":1}`))
}

func TestConstraintsAreRejected(t *testing.T) { suite.ConstraintsAreRejected(t) }

func TestOneTransactionAtATime(t *testing.T) { suite.OneTransactionAtATime(t) }

func TestPartialUpdateOfMissingRow(t *testing.T) { suite.PartialUpdateOfMissingRow(t) }

func TestRelandOfMissingRow(t *testing.T) { suite.RelandOfMissingRow(t) }
