package torture

import (
	"fmt"

	"github.com/syncd-dev/syncd/test/testenv"
)

// The source schema. account has the default replica identity, ledger
// REPLICA IDENTITY FULL, doc holds large values stored out of line
// (TOAST) and has REPLICA IDENTITY FULL, which a filtered scope over such
// values needs (without it a row entering the scope arrives without its
// unchanged values, and the target refuses it), and txlog gets one row
// per workload transaction so that a lost transaction shows even when
// later ones overwrite its rows.
var sourceDDL = []string{
	`CREATE TABLE account (id bigint PRIMARY KEY, region text, balance numeric(12,2) NOT NULL, name text NOT NULL, note text)`,
	`CREATE TABLE doc (id integer PRIMARY KEY, title text NOT NULL, body text)`,
	`ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL`,
	`ALTER TABLE doc REPLICA IDENTITY FULL`,
	`CREATE TABLE ledger (id integer PRIMARY KEY, acct bigint NOT NULL, amount integer NOT NULL, memo text)`,
	`ALTER TABLE ledger REPLICA IDENTITY FULL`,
	`CREATE TABLE txlog (id bigint PRIMARY KEY, worker integer NOT NULL, ops integer NOT NULL)`,
}

// Rows present before syncd starts, so that the initial snapshots run
// under faults too.
var sourceSeed = []string{
	`INSERT INTO account SELECT g, (ARRAY['eu','us','apac',NULL])[g % 4 + 1], (g * 37 % 3000) - 500, 'acct ' || g, NULL FROM generate_series(1, 3000) g`,
	`INSERT INTO doc SELECT g, (ARRAY['alpha','beta','gamma'])[g % 3 + 1] || ' ' || g, repeat(md5(g::text), 1 + (g % 5) * 400) FROM generate_series(1, 40) g`,
	`INSERT INTO ledger SELECT g, g % 3000 + 1, (g * 7 % 200) - 100, CASE WHEN g % 3 = 0 THEN NULL ELSE 'memo ' || g END FROM generate_series(1, 500) g`,
}

// Initial id counters of the workload: above the seeded rows.
const (
	seedAccounts = 3000
	seedDocs     = 40
	seedLedger   = 500
)

// The scopes: "full" copies every table to both targets; "eu" is a
// template scope with a column list and a filter on a column the workload
// moves rows across; "rich" filters on a decimal and on a text column of
// the table with large values.
var scopeNames = []string{"full", "eu", "rich"}

const scopesHCL = `
scope "full" {
  source  = "app"
  targets = ["t1", "t2"]
  table "public.account" {}
  table "public.doc" {}
  table "public.ledger" {}
  table "public.txlog" {}
}

template "by_region" {
  params = ["region"]
  table "public.account" {
    columns = ["id", "region", "balance"]
    where   = "region = :region"
    target  = "byregion.account"
  }
  table "public.ledger" {
    where  = "amount > 0"
    target = "byregion.ledger"
  }
}

scope "eu" {
  source   = "app"
  targets  = ["t1"]
  template = "by_region"
  params   = { region = "eu" }
}

scope "rich" {
  source  = "app"
  targets = ["t2"]
  table "public.account" {
    columns = ["id", "name", "balance"]
    where   = "balance >= 1000 AND region IN ('eu', 'us')"
    target  = "rich.account"
  }
  table "public.doc" {
    columns = ["id", "title", "body"]
    where   = "title LIKE 'b%'"
    target  = "rich.doc"
  }
}
`

// expectation is one target table and the source query whose rows it must
// hold once converged. Both queries order their rows completely.
type expectation struct {
	scope, target string
	source, dest  string
}

var expectations = []expectation{
	{"full", "t1", `SELECT * FROM account ORDER BY id`, `SELECT * FROM account ORDER BY id`},
	{"full", "t1", `SELECT id, title, md5(body) FROM doc ORDER BY id`, `SELECT id, title, md5(body) FROM doc ORDER BY id`},
	{"full", "t1", `SELECT * FROM ledger ORDER BY id`, `SELECT * FROM ledger ORDER BY id`},
	{"full", "t1", `SELECT * FROM txlog ORDER BY id`, `SELECT * FROM txlog ORDER BY id`},
	{"full", "t2", `SELECT * FROM account ORDER BY id`, `SELECT * FROM account ORDER BY id`},
	{"full", "t2", `SELECT id, title, md5(body) FROM doc ORDER BY id`, `SELECT id, title, md5(body) FROM doc ORDER BY id`},
	{"full", "t2", `SELECT * FROM ledger ORDER BY id`, `SELECT * FROM ledger ORDER BY id`},
	{"full", "t2", `SELECT * FROM txlog ORDER BY id`, `SELECT * FROM txlog ORDER BY id`},
	{"eu", "t1", `SELECT id, region, balance FROM account WHERE region = 'eu' ORDER BY id`, `SELECT id, region, balance FROM byregion.account ORDER BY id`},
	{"eu", "t1", `SELECT * FROM ledger WHERE amount > 0 ORDER BY id`, `SELECT * FROM byregion.ledger ORDER BY id`},
	{"rich", "t2", `SELECT id, name, balance FROM account WHERE balance >= 1000 AND region IN ('eu', 'us') ORDER BY id`, `SELECT id, name, balance FROM rich.account ORDER BY id`},
	{"rich", "t2", `SELECT id, title, md5(body) FROM doc WHERE title LIKE 'b%' ORDER BY id`, `SELECT id, title, md5(body) FROM rich.doc ORDER BY id`},
}

// scopeInfoTables are the scope_info tables per target, and the scopes
// each must hold a row for.
var scopeInfoTables = map[string]struct {
	table  string
	scopes []string
}{
	"t1": {"syncd_scope_info", []string{"full", "eu"}},
	"t2": {"meta.scope_info", []string{"full", "rich"}},
}

// cluster is the source, the target cluster with databases t1 and t2, the
// NATS server process and syncd.
type cluster struct {
	t      seeded
	src    *testenv.Postgres
	dst    *testenv.Postgres
	nats   *testenv.NATSServer
	d      *testenv.Syncd
	dstDSN map[string]string
}

func startCluster(t seeded) *cluster {
	t.Helper()
	c := &cluster{t: t, dstDSN: map[string]string{}}
	c.nats = testenv.StartNATSServer(t, natsBin)
	c.src = testenv.StartPostgres(t)
	c.dst = testenv.StartPostgres(t)
	srcDSN := c.src.CreateDB(t, "app")
	c.src.Exec(t, "app", sourceDDL...)
	c.src.Exec(t, "app", sourceSeed...)
	c.dstDSN["t1"] = c.dst.CreateDB(t, "t1")
	c.dstDSN["t2"] = c.dst.CreateDB(t, "t2")
	body := fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
target "postgres" "t1" {
  dsn           = %q
  create_tables = true
}
target "postgres" "t2" {
  dsn              = %q
  create_tables    = true
  scope_info_table = "meta.scope_info"
}
%s`, srcDSN, c.dstDSN["t1"], c.dstDSN["t2"], scopesHCL)
	c.d = testenv.NewSyncdExternalNATS(t, syncdBin, c.nats.URL, body)
	return c
}
