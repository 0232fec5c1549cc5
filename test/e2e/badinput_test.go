package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestBadConfig checks that config mistakes stop `syncd validate` and
// `syncd run` with exit code 1 and a file:line:col diagnostic.
func TestBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   string // regexp the output must match
	}{
		{
			name:   "malformed HCL",
			config: "source \"postgres\" \"app\" {\n  dsn = \"x\"\n",
			want:   `syncd\.hcl:\d+:\d+: error: `,
		},
		{
			name: "unknown source in scope",
			config: `source "postgres" "app" { dsn = "postgres://x/app" }
scope "s" {
  source = "ap"
  table "public.t" {}
}`,
			want: `syncd\.hcl:3:\d+: error: (?i:unknown source).*"ap"`,
		},
		{
			name: "bad filter syntax",
			config: `source "postgres" "app" { dsn = "postgres://x/app" }
scope "s" {
  source = "app"
  table "public.t" { where = "price >> 3" }
}`,
			want: `syncd\.hcl:4:\d+: error: `,
		},
		{
			name: "unknown template parameter",
			config: `source "postgres" "app" { dsn = "postgres://x/app" }
template "tpl" {
  params = ["state"]
  table "public.t" { where = "state = :state" }
}
scope "s" {
  source   = "app"
  template = "tpl"
  params   = { state = "WA", country = "US" }
}`,
			want: `syncd\.hcl:9:\d+: error: .*country`,
		},
		{
			name: "mapping expression",
			config: `source "postgres" "app" { dsn = "postgres://x/app" }
scope "s" {
  source = "app"
  table "public.t" {
    mapping {
      column "n" { expr = "lower(name) + nosuch(name)" }
    }
  }
}`,
			want: `syncd\.hcl:6:42: error: Invalid expression: The expression of column "n" of table "public.t" in scope "s" is invalid: unknown function nosuch`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "syncd.hcl")
			if err := os.WriteFile(path, []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"validate", "run"} {
				code, out := runSyncd(t, cmd, "--config", path)
				if code != 1 || !regexp.MustCompile(tt.want).MatchString(out) {
					t.Errorf("syncd %s: exit %d, want 1 and output matching %s:\n%s", cmd, code, tt.want, out)
				}
			}
		})
	}
}

// TestBadSource checks that a source syncd cannot use stops `syncd run`
// with exit code 1, a message naming the problem, and nothing created on
// the server: no publication, no slot.
func TestBadSource(t *testing.T) {
	good := testenv.StartPostgres(t)
	replicaOnly := testenv.StartPostgres(t, testenv.WithSetting("wal_level", "replica"))
	tests := []struct {
		name  string
		pg    *testenv.Postgres
		setup string
		table string // the scope's table block
		want  string
	}{
		{"wal_level not logical", replicaOnly, `CREATE TABLE t (id int PRIMARY KEY)`, `table "public.t" {}`, `wal_level is "replica".*wal_level = logical`},
		{"missing table", good, `CREATE TABLE t (id int PRIMARY KEY)`, `table "public.nope" {}`, `table public\.nope \(scope s\) does not exist`},
		{"no primary key", good, `CREATE TABLE t (id int)`, `table "public.t" {}`, `table public\.t has no primary key and its REPLICA IDENTITY is not FULL`},
		{"missing column", good, `CREATE TABLE t (id int PRIMARY KEY)`, `table "public.t" { where = "price IS NULL" }`, `table public\.t has no column "price"`},
		{"missing mapped column", good, `CREATE TABLE t (id int PRIMARY KEY)`, `table "public.t" {
    mapping {
      column "p" { expr = "lower(pricetag)" }
    }
  }`, `table public\.t has no column "pricetag"`},
		// Checked at start against the catalog's column types: the table
		// is empty, so no row would ever have shown it.
		{"mapping type error", good, `CREATE TABLE t (id int PRIMARY KEY, name text)`, `table "public.t" {
    mapping {
      column "n" { expr = "name * 2" }
    }
  }`, `scope "s": mapping of public\.t: \S*syncd\.hcl:\d+:7: target column "n": .*mismatched types string and int`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := fmt.Sprintf("db%d", i)
			dsn := tt.pg.CreateDB(t, db)
			tt.pg.Exec(t, db, tt.setup)
			d := newDaemon(t, fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
scope "s" {
  source = "app"
  %s
}`, dsn, tt.table))
			code, out := runSyncd(t, "run", "--config", d.ConfigPath)
			if code != 1 || !regexp.MustCompile(tt.want).MatchString(out) {
				t.Fatalf("syncd run: exit %d, want 1 and output matching %s:\n%s", code, tt.want, out)
			}
			nothingProvisioned(t, dsn)
		})
	}
}

// TestFailedStartLeavesNothing checks that a start failing for a reason
// that needs no source (the admin port is taken, a target's DSN does not
// parse) exits 1 before syncd creates anything on the source.
func TestFailedStartLeavesNothing(t *testing.T) {
	pg := testenv.StartPostgres(t)
	tests := []struct {
		name      string
		target    string // a target block for the scope, or none
		busyAdmin bool
		want      string
	}{
		{"admin port busy", "", true, `listen on admin address 127\.0\.0\.1:\d+: .*address already in use`},
		{"target DSN does not parse", `target "mysql" "replica" { dsn = "not a dsn" }`, false, `scope s: parse dsn of target replica: invalid DSN`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := fmt.Sprintf("db%d", i)
			dsn := pg.CreateDB(t, db)
			pg.Exec(t, db, `CREATE TABLE t (id int PRIMARY KEY)`)
			targets := "[]"
			if tt.target != "" {
				targets = `["replica"]`
			}
			// Slot names are per server: one for each case, so that a
			// case that fails to clean up cannot break the next.
			d := newDaemon(t, fmt.Sprintf(`
source "postgres" "app" {
  dsn  = %q
  slot = "syncd_%s"
}
%s
scope "s" {
  source  = "app"
  targets = %s
  table "public.t" {}
}`, dsn, db, tt.target, targets))
			if tt.busyAdmin {
				ln, err := net.Listen("tcp", strings.TrimPrefix(d.AdminURL, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
			}
			code, out := runSyncd(t, "run", "--config", d.ConfigPath)
			if code != 1 || !regexp.MustCompile(tt.want).MatchString(out) {
				t.Fatalf("syncd run: exit %d, want 1 and output matching %s:\n%s", code, tt.want, out)
			}
			nothingProvisioned(t, dsn)
		})
	}
}

// TestFailedStartUndoesOtherSources checks that when one source stops the
// start (a table without a primary key, found only by asking the server),
// the slot, publication and slot record that this start created for
// another source are dropped, and that a slot and publication from an
// earlier start are kept.
func TestFailedStartUndoesOtherSources(t *testing.T) {
	pg := testenv.StartPostgres(t)
	good, bad := pg.CreateDB(t, "good"), pg.CreateDB(t, "bad")
	pg.Exec(t, "good", `CREATE TABLE t (id int PRIMARY KEY)`)
	pg.Exec(t, "bad", `CREATE TABLE t (id int)`)
	d := newDaemon(t, fmt.Sprintf(`
source "postgres" "good" { dsn = %q }
source "postgres" "bad" { dsn = %q }
scope "g" {
  source   = "good"
  snapshot = "never"
  table "public.t" {}
}
scope "b" {
  source   = "bad"
  snapshot = "never"
  table "public.t" {}
}`, good, bad))
	const want = `source bad: .*table public\.t has no primary key`
	failedStart := func() {
		t.Helper()
		code, out := runSyncd(t, "run", "--config", d.ConfigPath)
		if code != 1 || !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("syncd run: exit %d, want 1 and output matching %s:\n%s", code, want, out)
		}
	}

	failedStart()
	nothingProvisioned(t, good)
	nothingProvisioned(t, bad)
	// The slot record went with the slot: once bad is fixed, the start
	// does not report good's slot lost.
	pg.Exec(t, "bad", `ALTER TABLE t ADD PRIMARY KEY (id)`)
	d.Start()
	if code := d.Stop(); code != 0 {
		t.Fatalf("syncd stopped with exit code %d", code)
	}

	// Now both sources have a slot and a publication from that start.
	pg.Exec(t, "bad", `ALTER TABLE t DROP CONSTRAINT t_pkey`)
	failedStart()
	for _, dsn := range []string{good, bad} {
		var pubs, slots int
		conn := pgConnect(t, dsn)
		err := conn.QueryRow(context.Background(), `
SELECT (SELECT count(*) FROM pg_publication WHERE pubname = 'syncd_' || current_database()),
       (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'syncd_' || current_database())`).Scan(&pubs, &slots)
		if err != nil {
			t.Fatal(err)
		}
		if pubs != 1 || slots != 1 {
			t.Errorf("%s after a failed start: %d publications, %d slots named syncd_<db>; want the earlier start's one each", dsn, pubs, slots)
		}
	}
}

// nothingProvisioned fails the test if the database at dsn has a
// publication or a replication slot.
func nothingProvisioned(t *testing.T, dsn string) {
	t.Helper()
	conn := pgConnect(t, dsn)
	var pubs, slots int
	ctx := context.Background()
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_publication`).Scan(&pubs); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = current_database()`).Scan(&slots); err != nil {
		t.Fatal(err)
	}
	if pubs != 0 || slots != 0 {
		t.Fatalf("after the failed start: %d publications, %d slots; want none", pubs, slots)
	}
}
