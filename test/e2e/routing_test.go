package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/test/testenv"
)

const routingSchema = `
CREATE TABLE product (
  id              int PRIMARY KEY,
  name            text NOT NULL,
  price           numeric(10,2),
  region          text,
  notes           text,
  discontinued_at timestamptz
);
ALTER TABLE product REPLICA IDENTITY FULL;
CREATE TABLE orders (
  id        bigint PRIMARY KEY,
  product_id int,
  region    text,
  qty       int
);`

// The scopes overlap on public.product: "catalog" with a column list and
// a filter, "eu" instantiated from a template with a parameter.
const routingScopes = `
source "postgres" "app" { dsn = %q }

scope "catalog" {
  source   = "app"
  snapshot = "never"
  table "public.product" {
    columns = ["id", "name", "price"]
    where   = "price > 0 AND discontinued_at IS NULL AND id < 1000"
  }
}

template "by_region" {
  params = ["region"]
  table "public.product" { where = "region = :region" }
  table "public.orders"  { where = "region = :region" }
}

scope "eu" {
  source   = "app"
  snapshot = "never"
  template = "by_region"
  params   = { region = "eu" }
}
`

// want is one expected message: op, reason, table, key, and (optionally)
// the exact after and before images.
type want struct {
	op, reason, table, key string
	after, before          string
}

func TestRoutingOverlappingScopes(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", routingSchema)
	d := newDaemon(t, fmt.Sprintf(routingScopes, dsn))
	d.Start()
	nc := connect(t, d)

	steps := []string{
		/* 1 */ `INSERT INTO product VALUES (1,'apple',1.50,'eu',NULL,NULL), (2,'pear',0,'eu',NULL,NULL), (3,'plum',2.00,'us',NULL,NULL), (4,'fig',5.00,'eu','x',now())`,
		/* 2 */ `INSERT INTO orders VALUES (100,1,'eu',2), (101,3,'us',1)`,
		/* 3 */ `UPDATE product SET price = 3.00 WHERE id = 2`, // pear enters catalog
		/* 4 */ `UPDATE product SET region = 'us' WHERE id = 1`, // apple leaves eu
		/* 5 */ `UPDATE product SET id = 10 WHERE id = 3`, // primary key change
		/* 6 */ `UPDATE orders SET region = 'us' WHERE id = 100`, // leaves eu; no old image
		/* 7 */ `UPDATE orders SET qty = 5 WHERE id = 101`, // never in eu; no old image, so exits anyway
		/* 8 */ `DELETE FROM product WHERE id = 4`, // discontinued: not in catalog
		/* 9 */ `DELETE FROM product WHERE id = 10`, // not in eu
		/* 10 */ `TRUNCATE orders`,
		/* 11 */ `TRUNCATE product`,
	}
	for _, s := range steps {
		pg.Exec(t, "app", s)
	}

	catalog := []want{
		{op: "c", reason: "change", table: "product", key: `{"id":1}`, after: `{"id":1,"name":"apple","price":"1.50"}`, before: "null"},
		{op: "c", reason: "change", table: "product", key: `{"id":3}`, after: `{"id":3,"name":"plum","price":"2.00"}`},
		{op: "c", reason: "scope_enter", table: "product", key: `{"id":2}`, after: `{"id":2,"name":"pear","price":"3.00"}`, before: "null"},
		{op: "u", reason: "change", table: "product", key: `{"id":1}`, after: `{"id":1,"name":"apple","price":"1.50"}`, before: `{"id":1,"name":"apple","price":"1.50"}`},
		{op: "u", reason: "change", table: "product", key: `{"id":10}`, after: `{"id":10,"name":"plum","price":"2.00"}`, before: `{"id":3,"name":"plum","price":"2.00"}`},
		{op: "d", reason: "change", table: "product", key: `{"id":10}`, after: "null", before: `{"id":10,"name":"plum","price":"2.00"}`},
		{op: "t", reason: "change", table: "product", key: "null", after: "null", before: "null"},
	}
	eu := []want{
		{op: "c", reason: "change", table: "product", key: `{"id":1}`, after: `{"id":1,"name":"apple","price":"1.50","region":"eu","notes":null,"discontinued_at":null}`},
		{op: "c", reason: "change", table: "product", key: `{"id":2}`},
		{op: "c", reason: "change", table: "product", key: `{"id":4}`},
		{op: "c", reason: "change", table: "orders", key: `{"id":"100"}`, after: `{"id":"100","product_id":1,"region":"eu","qty":2}`},
		{op: "u", reason: "change", table: "product", key: `{"id":2}`},
		{op: "d", reason: "scope_exit", table: "product", key: `{"id":1}`, after: "null"},
		{op: "d", reason: "scope_exit", table: "orders", key: `{"id":"100"}`, after: "null", before: `{"id":"100"}`},
		{op: "d", reason: "scope_exit", table: "orders", key: `{"id":"101"}`, after: "null", before: `{"id":"101"}`},
		{op: "d", reason: "change", table: "product", key: `{"id":4}`, after: "null"},
		{op: "t", reason: "change", table: "orders", key: "null"},
		{op: "t", reason: "change", table: "product", key: "null"},
	}
	waitCount(t, nc, "catalog", uint64(len(catalog)), time.Minute)
	waitCount(t, nc, "eu", uint64(len(eu)), time.Minute)
	checkStream(t, "catalog", readStream(t, nc, "catalog"), catalog)
	checkStream(t, "eu", readStream(t, nc, "eu"), eu)

	// The first transaction put two rows in catalog and three in eu:
	// seq counts per scope and last marks each scope's final message.
	got := readStream(t, nc, "eu")
	for i, w := range []struct {
		seq  int
		last bool
	}{{1, false}, {2, false}, {3, true}} {
		if got[i].Env.Txn.Seq != w.seq || got[i].Env.Txn.Last != w.last {
			t.Errorf("eu message %d: txn seq %d last %v, want %d %v", i, got[i].Env.Txn.Seq, got[i].Env.Txn.Last, w.seq, w.last)
		}
	}

	// syncd tail prints the same documents.
	code, out := runSyncd(t, "tail", "--nats", d.NATSURL, "--count", fmt.Sprint(len(catalog)), "catalog")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != len(catalog) {
		t.Fatalf("syncd tail: exit %d, %d lines, want 0 and %d:\n%s", code, len(lines), len(catalog), out)
	}
	for i, m := range readStream(t, nc, "catalog") {
		if lines[i] != string(m.Data) {
			t.Errorf("tail line %d = %s\nwant %s", i, lines[i], m.Data)
		}
	}

	// SIGTERM: drain, confirm the final position, exit 0.
	var end string
	conn := pgConnect(t, dsn)
	if err := conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&end); err != nil {
		t.Fatal(err)
	}
	if code := d.Stop(); code != 0 {
		t.Fatalf("syncd exit code after SIGTERM = %d, want 0", code)
	}
	// The walsender records syncd's last confirmation a moment after syncd
	// exits; nothing else confirms once it has, so waiting proves it.
	waitConfirmed(t, conn, end, 10*time.Second)
}

// checkStream compares a stream's messages with the expected ones: op,
// reason, table, key, images, and the headers and envelope fields every
// message must carry.
func checkStream(t *testing.T, scope string, got []streamed, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%s: %d messages, want %d", scope, len(got), len(wants))
	}
	for i, w := range wants {
		m, e := got[i], got[i].Env
		where := fmt.Sprintf("%s message %d (%s)", scope, i, m.Data)
		wantSubject := fmt.Sprintf("syncd.%s.app.public.%s.%s", scope, w.table, w.op)
		if m.Subject != wantSubject {
			t.Errorf("%s: subject %s, want %s", where, m.Subject, wantSubject)
		}
		if e.Op != w.op || e.Scope.Reason != w.reason || e.Source.Table != w.table {
			t.Errorf("%s: op %s reason %s table %s, want %s %s %s", where, e.Op, e.Scope.Reason, e.Source.Table, w.op, w.reason, w.table)
		}
		if k := mustJSON(t, e.Key); k != w.key {
			t.Errorf("%s: key %s, want %s", where, k, w.key)
		}
		if w.after != "" {
			if a := rawField(t, m.Data, "after"); a != w.after {
				t.Errorf("%s: after %s, want %s", where, a, w.after)
			}
		}
		if w.before != "" {
			if b := rawField(t, m.Data, "before"); b != w.before {
				t.Errorf("%s: before %s, want %s", where, b, w.before)
			}
		}
		if e.Scope.Name != scope || e.Scope.Version != 1 {
			t.Errorf("%s: scope %+v", where, e.Scope)
		}
		if e.Source.Kind != "postgres" || e.Source.Name != "app" || e.Source.DB != "app" || e.Source.Schema != "public" || e.Source.Snapshot {
			t.Errorf("%s: source %+v", where, e.Source)
		}
		if e.Source.CommitTS.IsZero() || time.Since(e.Source.CommitTS) > time.Hour || e.TsMs == 0 || e.Txn.ID == "" {
			t.Errorf("%s: commit_ts %v ts_ms %d txn %+v", where, e.Source.CommitTS, e.TsMs, e.Txn)
		}
		wantID := fmt.Sprintf("%s:app:%s:%d", scope, e.Source.Pos, e.Txn.Seq)
		h := m.Header
		if h.Get("Nats-Msg-Id") != wantID || h.Get("Syncd-Op") != w.op || h.Get("Syncd-Txn") != e.Txn.ID ||
			h.Get("Syncd-Pos") != e.Source.Pos.String() || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s: headers %v, want Nats-Msg-Id %s", where, h, wantID)
		}
	}
}

// rawField returns a top-level field of a JSON document as its exact text.
func rawField(t *testing.T, doc []byte, field string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return string(m[field])
}

func pgConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestUnchangedToastIsListed checks that a large value an update left
// unchanged (PostgreSQL does not send it) is listed in "unchanged" and left
// out of "after", never sent as null.
func TestUnchangedToastIsListed(t *testing.T) {
	pg := testenv.StartPostgres(t)
	_, d := oneScope(t, pg, `CREATE TABLE doc (id int PRIMARY KEY, title text, body text);
ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL`, "docs", "public.doc")
	d.Start()
	pg.Exec(t, "app",
		`INSERT INTO doc VALUES (1, 'a', repeat('x', 10000))`,
		`UPDATE doc SET title = 'b' WHERE id = 1`)
	nc := connect(t, d)
	waitCount(t, nc, "docs", 2, time.Minute)
	msgs := readStream(t, nc, "docs")
	if body := msgs[0].Env.After["body"]; body != strings.Repeat("x", 10000) {
		t.Fatalf("insert: body has %d bytes", len(fmt.Sprint(body)))
	}
	upd := msgs[1]
	if got := rawField(t, upd.Data, "after"); got != `{"id":1,"title":"b"}` {
		t.Fatalf("update after = %s, want the body left out", got)
	}
	if got := rawField(t, upd.Data, "unchanged"); got != `["body"]` {
		t.Fatalf("update unchanged = %s, want [\"body\"]", got)
	}
}
