package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/test/testenv"
)

// planServers are the source and targets of TestPlan's configs.
const planServers = `
source "postgres" "app" { dsn = %[1]q }
target "postgres" "replica" {
  dsn           = %[2]q
  create_tables = true
}
target "postgres" "replica2" {
  dsn           = %[3]q
  create_tables = true
}
`

// planV1 is the config a daemon runs in TestPlan: a filtered table and a
// table with listed columns, applied to one target.
const planV1 = planServers + `
scope "shop" {
  source  = "app"
  targets = ["replica"]
  table "public.item" {
    columns = ["id", "name", "price"]
    where   = "price > 5"
  }
  table "public.customer" { columns = ["id", "name"] }
}
`

// planV2 widens item's filter, adds a column to customer, adds table
// orders and target replica2 to scope shop, and adds scope cheap.
const planV2 = planServers + `
scope "shop" {
  source  = "app"
  targets = ["replica", "replica2"]
  table "public.item" {
    columns = ["id", "name", "price"]
    where   = "price > 2"
  }
  table "public.customer" { columns = ["id", "name", "email"] }
  table "public.orders" {}
}
scope "cheap" {
  source  = "app"
  targets = ["replica"]
  table "public.item" {
    where  = "price <= 2"
    target = "cheap.item"
  }
}
`

// TestPlan runs syncd plan against what a stopped daemon left: with the
// daemon's own config it finds no changes (exit 0); with a changed config
// it names each change with exact row counts (exit 2); and it changes
// nothing in PostgreSQL or NATS.
func TestPlan(t *testing.T) {
	pg := testenv.StartPostgres(t)
	appDSN := pg.CreateDB(t, "app")
	replicaDSN := pg.CreateDB(t, "replica")
	replica2DSN := pg.CreateDB(t, "replica2")
	pg.Exec(t, "app",
		`CREATE TABLE item (id int PRIMARY KEY, name text, price int, note text)`,
		`INSERT INTO item SELECT g, 'item ' || g, g % 10, NULL FROM generate_series(1, 500) g`,
		`CREATE TABLE customer (id int PRIMARY KEY, name text, email text)`,
		`INSERT INTO customer SELECT g, 'c' || g, 'c' || g || '@example.com' FROM generate_series(1, 40) g`,
		`CREATE TABLE orders (id int PRIMARY KEY, item_id int)`,
		`INSERT INTO orders SELECT g, g FROM generate_series(1, 30) g`)
	srv := testenv.StartNATS(t)
	d := testenv.NewSyncdExternalNATS(t, syncdBin, srv.URL, fmt.Sprintf(planV1, appDSN, replicaDSN, replica2DSN))
	d.Start()
	rep := &replication{srcDSN: appDSN, dstDSN: replicaDSN}
	waitIdentical(t, rep, time.Minute,
		[]string{`SELECT id, name, price FROM item WHERE price > 5 ORDER BY id`, `SELECT id, name FROM customer ORDER BY id`},
		[]string{`SELECT id, name, price FROM item ORDER BY id`, `SELECT id, name FROM customer ORDER BY id`})
	if code := d.Stop(); code != 0 {
		t.Fatalf("syncd exited %d on SIGTERM", code)
	}

	nc := srv.Connect(t)
	before := planState(t, nc, appDSN, replicaDSN, replica2DSN)

	// The daemon's own config: nothing to do.
	if code, out := runSyncd(t, "plan", "--config", d.ConfigPath); code != 0 || !strings.Contains(out, "No changes") {
		t.Errorf("syncd plan with the running config: exit %d, want 0 and \"No changes\":\n%s", code, out)
	}

	v2 := filepath.Join(d.Dir, "v2.hcl")
	writeFile(t, v2, strings.Replace(readFile(t, d.ConfigPath), fmt.Sprintf(planV1, appDSN, replicaDSN, replica2DSN),
		fmt.Sprintf(planV2, appDSN, replicaDSN, replica2DSN), 1))
	code, text := runSyncd(t, "plan", "--config", v2)
	if code != 2 {
		t.Fatalf("syncd plan with a changed config: exit %d, want 2:\n%s", code, text)
	}
	for _, want := range []string{
		"~ scope shop",
		"~ filter: price > 5  →  price > 2   (backfill = " + fmt.Sprint(count(t, appDSN, "item", "price IN (3, 4, 5)")) + " rows, delete = 0 rows)",
		"+ column email   (backfill = 40 rows)",
		"+ table public.orders   (backfill = 30 rows)",
		"+ target replica2",
		"+ scope cheap",
		"+ stream SYNCD_CHEAP",
		"~ publication syncd_app: + public.orders",
		"Plan: scopes 1 to create, 1 to change",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("syncd plan output lacks %q:\n%s", want, text)
		}
	}

	code, out := runSyncd(t, "plan", "--json", "--config", v2)
	if code != 2 {
		t.Fatalf("syncd plan --json: exit %d, want 2:\n%s", code, out)
	}
	var doc planJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("syncd plan --json printed no JSON document (%v):\n%s", err, out)
	}
	checkPlanJSON(t, doc, appDSN)

	// Without scope shop in the config, plan lists it as removed; its
	// tables stay at the targets (removed_tables = "keep", the default).
	v3 := filepath.Join(d.Dir, "v3.hcl")
	writeFile(t, v3, strings.Replace(readFile(t, d.ConfigPath), fmt.Sprintf(planV1, appDSN, replicaDSN, replica2DSN),
		fmt.Sprintf(planServers, appDSN, replicaDSN, replica2DSN)+`
scope "other" {
  source = "app"
  table "public.orders" {}
}
`, 1))
	code, text = runSyncd(t, "plan", "--config", v3)
	for _, want := range []string{
		"- scope shop",
		"    - table public.customer   (kept at the targets, rows and all)",
		"    - table public.item   (kept at the targets, rows and all)",
		"~ publication syncd_app: + public.orders - public.customer - public.item",
	} {
		if code != 2 || !strings.Contains(text, want) {
			t.Errorf("syncd plan without scope shop: exit %d, want 2 and %q:\n%s", code, want, text)
		}
	}

	// An unreachable NATS server is an error that names it.
	nowhere := filepath.Join(d.Dir, "nowhere.hcl")
	writeFile(t, nowhere, strings.Replace(readFile(t, v2), srv.URL, "nats://127.0.0.1:1", 1))
	if code, out := runSyncd(t, "plan", "--config", nowhere); code != 1 || !strings.Contains(out, "nats at nats://127.0.0.1:1") {
		t.Errorf("syncd plan with NATS unreachable: exit %d, want 1 and the server named:\n%s", code, out)
	}

	// Table customer removed from scope shop, at a target with
	// removed_tables = "empty": plan lists the rows to delete there.
	v1 := fmt.Sprintf(planV1, appDSN, replicaDSN, replica2DSN)
	v4 := strings.Replace(strings.Replace(v1, "create_tables = true\n}", "create_tables  = true\n  removed_tables = \"empty\"\n}", 1),
		`  table "public.customer" { columns = ["id", "name"] }`+"\n", "", 1)
	v4Path := filepath.Join(d.Dir, "v4.hcl")
	writeFile(t, v4Path, strings.Replace(readFile(t, d.ConfigPath), v1, v4, 1))
	if code, text = runSyncd(t, "plan", "--config", v4Path); code != 2 || !strings.Contains(text, "    - table public.customer   (rows to delete at target replica: 40 rows)") {
		t.Errorf("syncd plan without table customer: exit %d, want 2 and its 40 rows to delete at replica:\n%s", code, text)
	}

	after := planState(t, nc, appDSN, replicaDSN, replica2DSN)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("syncd plan changed %s:\nbefore: %s\nafter:  %s", k, v, after[k])
		}
	}

	// Run with it: customer is emptied at replica while item streams on,
	// and only once: a row written there by hand afterwards survives a
	// restart. Then plan has nothing left to delete.
	writeFile(t, d.ConfigPath, readFile(t, v4Path))
	d.Start()
	pg.Exec(t, "app", `INSERT INTO item VALUES (1001, 'after', 9, NULL)`)
	waitIdentical(t, rep, time.Minute,
		[]string{`SELECT id, name, price FROM item WHERE price > 5 ORDER BY id`, `SELECT count(*) FROM customer WHERE false`},
		[]string{`SELECT id, name, price FROM item ORDER BY id`, `SELECT count(*) FROM customer`})
	pg.Exec(t, "replica", `INSERT INTO customer VALUES (1, 'by hand')`)
	if code := d.Stop(); code != 0 {
		t.Fatalf("syncd exited %d on SIGTERM", code)
	}
	d.Start()
	pg.Exec(t, "app", `INSERT INTO item VALUES (1002, 'after restart', 9, NULL)`)
	waitIdentical(t, rep, time.Minute,
		[]string{`SELECT id, name, price FROM item WHERE price > 5 ORDER BY id`, `SELECT 1, 'by hand'`},
		[]string{`SELECT id, name, price FROM item ORDER BY id`, `SELECT * FROM customer`})
	if code, text = runSyncd(t, "plan", "--config", v4Path); strings.Contains(text, "rows to delete") {
		t.Errorf("syncd plan after customer was emptied: exit %d, still rows to delete:\n%s", code, text)
	}
	if n := strings.Count(d.Logs(), "emptied its target table"); n != 1 {
		t.Errorf("customer emptied %d times, want once", n)
	}
}

// planJSON is the part of syncd plan --json that TestPlan checks.
type planJSON struct {
	Changes bool            `json:"changes"`
	Scopes  []planScopeJSON `json:"scopes"`
	Sources []struct {
		Source         string   `json:"source"`
		PublicationAdd []string `json:"publication_add"`
		SlotExists     bool     `json:"slot_exists"`
	} `json:"sources"`
}

// planScopeJSON is a scope of planJSON.
type planScopeJSON struct {
	Scope        string `json:"scope"`
	Action       string `json:"action"`
	StreamExists bool   `json:"stream_exists"`
	Tables       []struct {
		Table        string   `json:"table"`
		Action       string   `json:"action"`
		ColumnsAdded []string `json:"columns_added"`
		Filter       *struct{ Old, New string }
		Backfill     *rowCountJSON `json:"backfill"`
		Delete       *rowCountJSON `json:"delete"`
	} `json:"tables"`
	Targets []struct {
		Target         string `json:"target"`
		Action         string `json:"action"`
		TablesToCreate []struct {
			Table   string   `json:"table"`
			Columns []string `json:"columns"`
		} `json:"tables_to_create"`
		ColumnsToAdd []struct {
			Table   string   `json:"table"`
			Columns []string `json:"columns"`
		} `json:"columns_to_add"`
	} `json:"targets"`
}

type rowCountJSON struct {
	Rows  int64 `json:"rows"`
	Exact bool  `json:"exact"`
}

func (r *rowCountJSON) String() string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("%d (exact %v)", r.Rows, r.Exact)
}

// checkPlanJSON checks each change of planV2 against the source's counts.
func checkPlanJSON(t *testing.T, doc planJSON, appDSN string) {
	t.Helper()
	if !doc.Changes || len(doc.Scopes) != 2 || doc.Scopes[0].Scope != "cheap" || doc.Scopes[1].Scope != "shop" {
		t.Fatalf("plan: changes %v, scopes %+v; want cheap and shop", doc.Changes, doc.Scopes)
	}
	exact := func(what string, got *rowCountJSON, want int64) {
		t.Helper()
		if got == nil || got.Rows != want || !got.Exact {
			t.Errorf("%s: %s, want %d exact", what, got, want)
		}
	}
	cheap, shop := doc.Scopes[0], doc.Scopes[1]
	if cheap.Action != "create" || cheap.StreamExists || len(cheap.Tables) != 1 || cheap.Tables[0].Action != "create" {
		t.Errorf("scope cheap: %+v, want created with a new stream and table", cheap)
	} else {
		exact("cheap public.item backfill", cheap.Tables[0].Backfill, count(t, appDSN, "item", "price <= 2"))
	}
	if len(cheap.Targets) != 1 || cheap.Targets[0].Target != "replica" || cheap.Targets[0].Action != "create" ||
		len(cheap.Targets[0].TablesToCreate) != 1 || cheap.Targets[0].TablesToCreate[0].Table != "cheap.item" ||
		!slices.Equal(cheap.Targets[0].TablesToCreate[0].Columns, []string{"id", "name", "price", "note"}) {
		t.Errorf("scope cheap targets: %+v, want replica to create cheap.item (id, name, price, note)", cheap.Targets)
	}

	if shop.Action != "update" || !shop.StreamExists || len(shop.Tables) != 3 {
		t.Fatalf("scope shop: %+v, want 3 tables changed", shop)
	}
	customer, item, orders := shop.Tables[0], shop.Tables[1], shop.Tables[2]
	if customer.Table != "public.customer" || !slices.Equal(customer.ColumnsAdded, []string{"email"}) {
		t.Errorf("shop customer: %+v, want column email added", customer)
	}
	exact("shop customer backfill", customer.Backfill, 40)
	if item.Table != "public.item" || item.Filter == nil || item.Filter.Old != "price > 5" || item.Filter.New != "price > 2" {
		t.Errorf("shop item: %+v, want filter price > 5 → price > 2", item)
	}
	exact("shop item backfill", item.Backfill, count(t, appDSN, "item", "price > 2 AND NOT price > 5"))
	exact("shop item delete", item.Delete, 0)
	if orders.Table != "public.orders" || orders.Action != "create" {
		t.Errorf("shop orders: %+v, want created", orders)
	}
	exact("shop orders backfill", orders.Backfill, 30)

	targets := map[string]string{}
	for _, tp := range shop.Targets {
		targets[tp.Target] = fmt.Sprintf("%s %+v %+v", tp.Action, tp.TablesToCreate, tp.ColumnsToAdd)
	}
	want := map[string]string{
		"replica":  "update [{Table:public.orders Columns:[id item_id]}] [{Table:public.customer Columns:[email]}]",
		"replica2": "create [{Table:public.item Columns:[id name price]} {Table:public.customer Columns:[id name email]} {Table:public.orders Columns:[id item_id]}] []",
	}
	for name, w := range want {
		if targets[name] != w {
			t.Errorf("shop target %s: %s\nwant %s", name, targets[name], w)
		}
	}
	if len(doc.Sources) != 1 || !slices.Equal(doc.Sources[0].PublicationAdd, []string{"public.orders"}) || !doc.Sources[0].SlotExists {
		t.Errorf("sources: %+v, want public.orders added to the publication of app", doc.Sources)
	}
}

// count counts the rows of table at dsn that match where.
func count(t *testing.T, dsn, table, where string) int64 {
	t.Helper()
	var n int64
	if err := pgConnect(t, dsn).QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// planState captures what syncd plan must not change: the source's slots
// and publications, the targets' tables, columns and scope_info rows, and
// every stream (KV buckets included) with its consumers, last sequence and
// message count per subject (a KV key's revision).
func planState(t *testing.T, nc *nats.Conn, appDSN string, targets ...string) map[string]string {
	t.Helper()
	state := map[string]string{}
	query := func(dsn, q string) string {
		rows, err := pgConnect(t, dsn).Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(all)
	}
	state["slots"] = query(appDSN, `SELECT slot_name::text, confirmed_flush_lsn::text, restart_lsn::text FROM pg_replication_slots ORDER BY 1`)
	state["publications"] = query(appDSN, `SELECT pubname::text, schemaname::text, tablename::text FROM pg_publication_tables ORDER BY 1, 2, 3`)
	for i, dsn := range targets {
		state[fmt.Sprintf("target %d columns", i)] = query(dsn, `SELECT table_schema::text, table_name::text, column_name::text, data_type::text
			FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3`)
		if query(dsn, `SELECT to_regclass('syncd_scope_info') IS NOT NULL`) == "[[true]]" {
			state[fmt.Sprintf("target %d scope_info", i)] = query(dsn, `SELECT to_jsonb(r)::text FROM syncd_scope_info r ORDER BY scope`)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var streams []string
	for name := range js.StreamNames(ctx).Name() {
		streams = append(streams, name)
	}
	slices.Sort(streams)
	state["streams"] = fmt.Sprint(streams)
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			t.Fatal(err)
		}
		var consumers []string
		for c := range s.ConsumerNames(ctx).Name() {
			consumers = append(consumers, c)
		}
		slices.Sort(consumers)
		state["stream "+name] = fmt.Sprintf("last seq %d, consumers %v, subjects %v",
			info.State.LastSeq, consumers, info.State.Subjects)
	}
	for _, bucket := range []string{"KV_syncd_scopes", "KV_syncd_snapshots"} {
		if !slices.Contains(streams, bucket) {
			t.Fatalf("no stream %s to compare; streams: %v", bucket, streams)
		}
	}
	return state
}

// planOldScopeInfo runs syncd plan --json with config, whose targets copy
// (MariaDB) and pgcopy (PostgreSQL) are given a scope_info table as a
// syncd before the backfill columns created it, which no daemon of this
// version migrated: a copy of each one's syncd_scope_info, rows and all,
// without those columns. Plan reads the rows as they are, so scope items
// is applied at both (target action none), where the missing columns
// failed it.
func planOldScopeInfo(t *testing.T, c *crossEngine, config string) {
	t.Helper()
	drop := `ALTER TABLE old_scope_info DROP COLUMN backfill, DROP COLUMN backfill_table, DROP COLUMN backfill_rows`
	c.dst.Exec(t, "syncd", `CREATE TABLE old_scope_info LIKE syncd_scope_info`, `INSERT INTO old_scope_info SELECT * FROM syncd_scope_info`, drop)
	c.pg.Exec(t, "replica", `CREATE TABLE old_scope_info (LIKE syncd_scope_info INCLUDING ALL)`, `INSERT INTO old_scope_info SELECT * FROM syncd_scope_info`, drop)
	body := readFile(t, config)
	targets := regexp.MustCompile(`(?m)^  create_tables +=.*$`)
	if n := len(targets.FindAllString(body, -1)); n != 2 {
		t.Fatalf("the config sets create_tables in %d targets, want 2 (copy and pgcopy):\n%s", n, body)
	}
	path := filepath.Join(filepath.Dir(config), "old_scope_info.hcl")
	writeFile(t, path, targets.ReplaceAllString(body, "$0\n  scope_info_table = \"old_scope_info\""))
	code, out := runSyncd(t, "plan", "--json", "--config", path)
	var doc planJSON
	if err := json.Unmarshal([]byte(out), &doc); (code != 0 && code != 2) || err != nil {
		t.Fatalf("syncd plan with scope_info tables not migrated: exit %d (%v):\n%s", code, err, out)
	}
	i := slices.IndexFunc(doc.Scopes, func(s planScopeJSON) bool { return s.Scope == "items" })
	if i < 0 {
		t.Fatalf("syncd plan with scope_info tables not migrated lists no scope items:\n%s", out)
	}
	got := map[string]string{}
	for _, tp := range doc.Scopes[i].Targets {
		got[tp.Target] = tp.Action
	}
	if got["copy"] != "none" || got["pgcopy"] != "none" {
		t.Errorf("syncd plan with scope_info tables not migrated: scope items' targets %v, want copy and pgcopy applied (none):\n%s", got, out)
	}
}
