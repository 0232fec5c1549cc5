package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestRejectedRows sends a row that the targets refuse (a CHECK
// constraint the source lacks) to two scopes: with on_apply_error =
// "stop" the scope stops before that row's transaction and readiness
// names the row and the error; with "dlq" the row is parked on the DLQ
// stream with the reason, the rest is applied, and the scope is degraded.
// A third scope packs rows (rows_per_message): the two refused rows of
// one message are parked, each alone, and the rest of the message is
// applied.
func TestRejectedRows(t *testing.T) {
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
		r.dst.Exec(t, "replica",
			`CREATE TABLE items_stop (id int PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))`,
			`CREATE TABLE items_dlq (id int PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))`,
			`CREATE TABLE items_pack (id int PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))`)
	}, `
scope "stopper" {
  source         = "app"
  targets        = ["replica"]
  snapshot       = "never"
  on_apply_error = "stop"
  table "public.items" { target = "public.items_stop" }
}
scope "parker" {
  source         = "app"
  targets        = ["replica"]
  snapshot       = "never"
  on_apply_error = "dlq"
  table "public.items" {
    target = "public.items_dlq"
    where  = "id <= 10"
  }
}
scope "packer" {
  source           = "app"
  targets          = ["replica"]
  snapshot         = "never"
  on_apply_error   = "dlq"
  rows_per_message = 10
  table "public.items" {
    target = "public.items_pack"
    where  = "id > 10"
  }
}`)
	r.d.Start()
	r.src.Exec(t, "app",
		`INSERT INTO items SELECT g, 1 FROM generate_series(1, 5) g`,
		`BEGIN`, `INSERT INTO items VALUES (6, 1)`, `UPDATE items SET qty = -1 WHERE id = 6`, `INSERT INTO items VALUES (10, 1)`, `COMMIT`,
		`INSERT INTO items SELECT g, 1 FROM generate_series(7, 9) g`,
		`INSERT INTO items SELECT g, CASE WHEN g IN (12, 14) THEN -1 ELSE 1 END FROM generate_series(11, 14) g`)

	// dlq: everything but row 6's bad update, in order: row 6 exists with
	// the value before the rejected update.
	want := `SELECT id, CASE WHEN id = 6 THEN 1 ELSE qty END FROM items WHERE id <= 10 ORDER BY id`
	waitIdentical(t, r, time.Minute, []string{want}, []string{`SELECT id, qty FROM items_dlq ORDER BY id`})

	ctx := context.Background()
	dlq := openStream(t, r.d, "SYNCD_DLQ")
	msg, err := dlq.GetLastMsgForSubject(ctx, "syncd.parker._dlq")
	if err != nil {
		t.Fatalf("read the parked row: %v", err)
	}
	var parked struct {
		Scope, Target, Reason string
		Message               struct {
			Op  string
			Key map[string]int
		}
	}
	if err := json.Unmarshal(msg.Data, &parked); err != nil {
		t.Fatal(err)
	}
	if parked.Scope != "parker" || parked.Target != "replica" || parked.Message.Op != "u" || parked.Message.Key["id"] != 6 ||
		!strings.Contains(parked.Reason, "items_dlq_qty_check") {
		t.Errorf("parked row: %s", msg.Data)
	}

	// packer: rows 11 and 13 of the message [11, 12, 13, 14]; rows 12 and
	// 14 parked, each alone, as the second and fourth rows of the message.
	waitIdentical(t, r, time.Minute, []string{`SELECT id, qty FROM items WHERE id > 10 AND id NOT IN (12, 14) ORDER BY id`},
		[]string{`SELECT id, qty FROM items_pack ORDER BY id`})
	msg, err = dlq.GetLastMsgForSubject(ctx, "syncd.packer._dlq")
	if err != nil {
		t.Fatalf("read the parked row of the packed scope: %v", err)
	}
	var packed struct {
		Row     int
		Message struct {
			Op    string
			Key   map[string]int
			After map[string]int
		}
	}
	if err := json.Unmarshal(msg.Data, &packed); err != nil {
		t.Fatal(err)
	}
	if packed.Row != 4 || packed.Message.Op != "c" || packed.Message.Key["id"] != 14 || packed.Message.After["qty"] != -1 {
		t.Errorf("last parked row of the packed scope: %s; want row 4, the insert of id 14", msg.Data)
	}
	if info, err := dlq.Info(ctx); err != nil || info.State.Msgs != 3 {
		t.Errorf("DLQ stream: %v, %+v; want exactly three parked rows", err, info)
	}

	// stop: rows 1-5 only; the scope failed, naming the row and the error.
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		code, body := getStatus(t, r.d.AdminURL+"/readyz")
		if code != 503 || !strings.Contains(body, `"apply_failed"`) || !strings.Contains(body, `scope/stopper/target/replica`) ||
			!strings.Contains(body, `key {\"id\":6}`) || !strings.Contains(body, "items_stop_qty_check") {
			return fmt.Errorf("/readyz %d %s", code, body)
		}
		return nil
	})
	n, _, err := checksum(t, r.dstDSN, `SELECT * FROM items_stop`)
	if err != nil || n != 5 {
		t.Errorf("items_stop has %d rows (%v); want the 5 before the rejected transaction", n, err)
	}
	scopes := get(t, r.d.AdminURL+"/scopes")
	if !strings.Contains(scopes, `"degraded": true`) || !strings.Contains(scopes, `"rows_parked": 1`) {
		t.Errorf("/scopes does not show the parker scope degraded:\n%s", scopes)
	}
}

// TestToastEnteringFilteredScope: without REPLICA IDENTITY FULL, a row
// that enters a filtered scope through an update that leaves a large
// value alone arrives without that value. The target must not create the
// row without it: the scope stops and says what to change.
func TestToastEnteringFilteredScope(t *testing.T) {
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", `CREATE TABLE doc (id int PRIMARY KEY, title text NOT NULL, body text)`,
			`ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL`)
	}, `
scope "b" {
  source   = "app"
  targets  = ["replica"]
  snapshot = "never"
  table "public.doc" { where = "title LIKE 'b%'" }
}`)
	r.d.Start()
	r.src.Exec(t, "app",
		`INSERT INTO doc VALUES (1, 'beta', repeat('x', 10000)), (2, 'alpha', repeat('y', 10000))`,
		`UPDATE doc SET title = 'bravo' WHERE id = 2`)
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		code, body := getStatus(t, r.d.AdminURL+"/readyz")
		if code != 503 || !strings.Contains(body, `"apply_failed"`) || !strings.Contains(body, `key {\"id\":2}`) ||
			!strings.Contains(body, "REPLICA IDENTITY FULL") {
			return fmt.Errorf("/readyz %d %s", code, body)
		}
		return nil
	})
	n, _, err := checksum(t, r.dstDSN, `SELECT * FROM doc WHERE body IS NULL`)
	if err != nil || n != 0 {
		t.Errorf("%d target rows without their body (%v); want none", n, err)
	}
}

// TestRejectedRowLateInBatch: a rejected row near the end of a batch of
// many source transactions is found in one pass, row by row up to it,
// not by retrying the batch once per transaction before it.
func TestRejectedRowLateInBatch(t *testing.T) {
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
		r.dst.Exec(t, "replica", `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))`)
	}, `
scope "parker" {
  source         = "app"
  targets        = ["replica"]
  snapshot       = "never"
  on_apply_error = "dlq"
  table "public.items" {}
}`)
	r.d.Start()
	r.src.Exec(t, "app", `INSERT INTO items VALUES (0, 0)`)
	waitIdentical(t, r, time.Minute, []string{`SELECT * FROM items`}, []string{`SELECT * FROM items`})
	r.d.Stop()
	// 500 one-row transactions while syncd is down, so that they arrive
	// together; the 400th is refused by the target.
	r.src.Exec(t, "app", `DO $$ BEGIN
  FOR i IN 1..500 LOOP
    INSERT INTO items VALUES (i, CASE WHEN i = 400 THEN -1 ELSE i END);
    COMMIT;
  END LOOP;
END $$`)
	r.d.Start()
	waitIdentical(t, r, time.Minute, []string{`SELECT * FROM items WHERE id <> 400 ORDER BY id`}, []string{`SELECT * FROM items ORDER BY id`})
	if n := strings.Count(r.d.Logs(), "applying row by row to find it"); n != 1 {
		t.Errorf("the worker went row by row %d times; want once", n)
	}
}

// TestTargetLacksColumn: a target table without a column the scope
// publishes, and no create_tables, cannot heal by retrying. The scope
// stops at once: apply_failed in /readyz, and /scopes says which table
// lacks which column, with the worker failed, not retrying.
func TestTargetLacksColumn(t *testing.T) {
	pg := testenv.StartPostgres(t)
	src, dst := pg.CreateDB(t, "app"), pg.CreateDB(t, "replica")
	pg.Exec(t, "app", `CREATE TABLE items (id int PRIMARY KEY, qty int, note text)`)
	pg.Exec(t, "replica", `CREATE TABLE items (id int PRIMARY KEY, qty int)`)
	d := newDaemon(t, fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
target "postgres" "replica" { dsn = %q }
scope "items" {
  source   = "app"
  targets  = ["replica"]
  snapshot = "never"
  table "public.items" {}
}`, src, dst))
	d.Start()
	pg.Exec(t, "app", `INSERT INTO items VALUES (1, 1, 'one')`)

	testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, func() error {
		code, body := getStatus(t, d.AdminURL+"/readyz")
		if code != 503 || !strings.Contains(body, `"apply_failed"`) || !strings.Contains(body, `scope/items/target/replica`) {
			return fmt.Errorf("/readyz %d %s", code, body)
		}
		return nil
	})
	var status struct {
		Scopes []struct {
			Apply []struct{ State, Error string }
		}
	}
	if err := json.Unmarshal([]byte(get(t, d.AdminURL+"/scopes")), &status); err != nil {
		t.Fatal(err)
	}
	if len(status.Scopes) != 1 || len(status.Scopes[0].Apply) != 1 {
		t.Fatalf("/scopes: %+v; want one scope with one target", status)
	}
	if a := status.Scopes[0].Apply[0]; a.State != "failed" || !strings.Contains(a.Error, "items lacks published columns note") {
		t.Errorf("/scopes apply status %+v; want failed, naming the table and the column", a)
	}
}

// TestRejectedSnapshotRow: a PostgreSQL target writes a snapshot's rows
// with COPY, 1,000 rows to a message though the scope has one row per
// message. A row the target refuses fails its whole COPY; row isolation
// then parks that row alone, as a row of its message, and applies the
// others.
func TestRejectedSnapshotRow(t *testing.T) {
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`,
			`INSERT INTO items SELECT g, CASE WHEN g = 1500 THEN -1 ELSE g END FROM generate_series(1, 2000) g`)
		r.dst.Exec(t, "replica", `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))`)
	}, `
scope "copier" {
  source         = "app"
  targets        = ["replica"]
  on_apply_error = "dlq"
  table "public.items" {}
}`)
	r.d.Start()
	waitIdentical(t, r, time.Minute, []string{`SELECT id, qty FROM items WHERE id <> 1500 ORDER BY id`},
		[]string{`SELECT id, qty FROM items ORDER BY id`})

	ctx := context.Background()
	dlq := openStream(t, r.d, "SYNCD_DLQ")
	msg, err := dlq.GetLastMsgForSubject(ctx, "syncd.copier._dlq")
	if err != nil {
		t.Fatalf("read the parked row: %v", err)
	}
	var parked struct {
		Reason  string
		Row     int
		Message struct {
			Op    string
			Key   map[string]int
			After map[string]int
		}
	}
	if err := json.Unmarshal(msg.Data, &parked); err != nil {
		t.Fatal(err)
	}
	if parked.Row < 1 || parked.Message.Op != "r" || parked.Message.Key["id"] != 1500 || parked.Message.After["qty"] != -1 ||
		!strings.Contains(parked.Reason, "items_qty_check") {
		t.Errorf("parked row: %s; want the read of id 1500, a row of its message", msg.Data)
	}
	if info, err := dlq.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Errorf("DLQ stream: %v, %+v; want exactly one parked row", err, info)
	}
}
