package postgres

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
