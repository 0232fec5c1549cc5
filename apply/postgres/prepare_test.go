package postgres

import (
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
)

func TestPrepareCreatesTables(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ScopeInfoTable = "meta.scope_info" })
	// Only some of the source's columns are published; the key is two
	// columns; the target name is in a schema that does not exist yet;
	// names need quoting.
	subset := applytest.Schema("public.orders", []string{"id", "line"}, "id bigint", "line integer", "total numeric(10,2)")
	other := applytest.Schema("public.product", []string{"id"}, "id integer", "name character varying(20)")
	other.Target = capture.TableID{Schema: "Catalog", Name: "pro.duct"}
	weird := applytest.Schema(`public.we"ird`, nil, `x text`, `Ü integer[]`, `c mood`)
	weird.Columns[0].Name = "a b"
	e.prepare(subset, other, weird)
	e.prepare(subset, other, weird) // again: nothing to do

	got := e.rows(`SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r' AND n.nspname IN ('public', 'Catalog', 'meta')
		ORDER BY 1, 2, a.attnum`)
	want := []string{
		"Catalog|pro.duct|id|integer|t",
		"Catalog|pro.duct|name|character varying(20)|f",
		"meta|scope_info|scope|text|t",
		"meta|scope_info|source|text|t",
		"meta|scope_info|scope_version|integer|t",
		"meta|scope_info|definition|jsonb|f",
		"meta|scope_info|column_schema|jsonb|f",
		"meta|scope_info|last_position|text|t",
		"meta|scope_info|last_stream_seq|bigint|t",
		"meta|scope_info|last_applied_at|timestamp with time zone|t",
		"meta|scope_info|last_txn_apply_ms|double precision|t",
		"meta|scope_info|rows_applied|bigint|t",
		"meta|scope_info|syncd_version|text|t",
		"meta|scope_info|backfill|text|t", "meta|scope_info|backfill_table|text|t", "meta|scope_info|backfill_rows|bigint|t",
		"public|orders|id|bigint|t",
		"public|orders|line|integer|t",
		"public|orders|total|numeric(10,2)|f",
		`public|we"ird|a b|text|f`,
		"public|we\"ird|Ü|integer[]|f",
		`public|we"ird|c|text|f`, // the target has no type mood
	}
	if !slices.Equal(got, want) {
		t.Errorf("created columns:\n got %q\nwant %q", got, want)
	}
	keys := e.rows(`SELECT conrelid::regclass, pg_get_constraintdef(oid) FROM pg_constraint
		WHERE contype = 'p' AND connamespace <> 'pg_catalog'::regnamespace ORDER BY conrelid::regclass::text`)
	wantKeys := []string{`"Catalog"."pro.duct"|PRIMARY KEY (id)`, `meta.scope_info|PRIMARY KEY (scope, source)`, `orders|PRIMARY KEY (id, line)`}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("primary keys:\n got %q\nwant %q", keys, wantKeys)
	}

	// The created tables take changes.
	err := e.run(false, applytest.Record(1),
		applytest.Change(other, capture.OpInsert, `{"id":1}`, "", `{"id":1,"name":"x"}`),
		applytest.Change(weird, capture.OpInsert, "", "", `{"a b":"v","Ü":[1,2],"c":"happy"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.rows(`SELECT * FROM public."we""ird"`); !slices.Equal(got, []string{"v|{1,2}|happy"}) {
		t.Errorf("rows of we\"ird: %q", got)
	}
}

func TestPrepareErrors(t *testing.T) {
	tests := []struct {
		name         string
		ddl          string
		createTables bool
		wantErr      string
	}{
		{
			name:    "missing table without create_tables",
			wantErr: "target replica has no table public.items; create it or set create_tables = true",
		},
		{
			name:    "missing columns without create_tables",
			ddl:     `CREATE TABLE items (id integer PRIMARY KEY, name text)`,
			wantErr: "target replica table public.items lacks published columns note, qty; add them",
		},
		{
			name:    "no unique index on the key",
			ddl:     `CREATE TABLE items (id integer, name text, note text, qty integer)`,
			wantErr: "target replica table public.items has no primary key or unique index on (id)",
		},
		{
			name:    "unique index on other columns",
			ddl:     `CREATE TABLE items (id integer, name text UNIQUE, note text, qty integer)`,
			wantErr: "has no primary key or unique index on (id)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *Config) { c.CreateTables = tt.createTables })
			if tt.ddl != "" {
				e.exec(tt.ddl)
			}
			err := e.tg.Prepare(applytest.Context(t), "s", []*router.TableSchema{items})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Prepare error = %v, want one containing %q", err, tt.wantErr)
			}
			if !retry.IsTerminal(err) {
				t.Errorf("Prepare error %v is not marked terminal", err)
			}
		})
	}
}

// TestPrepareUniqueIndex accepts a unique index in place of a primary key.
func TestPrepareUniqueIndex(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CreateTables = false })
	e.exec(`CREATE TABLE items (id integer NOT NULL, name text, note text, qty integer)`,
		`CREATE UNIQUE INDEX ON items (id)`)
	e.prepare(items)
	if err := e.run(false, applytest.Record(1), applytest.Change(items, capture.OpInsert, `{"id":1}`, "", `{"id":1,"name":"a","note":null,"qty":1}`),
		applytest.Change(items, capture.OpUpdate, `{"id":1}`, "", `{"id":1,"name":"b","note":null,"qty":2}`)); err != nil {
		t.Fatal(err)
	}
	if got := e.rows(`SELECT * FROM items`); !slices.Equal(got, []string{"1|b|∅|2"}) {
		t.Errorf("rows %q", got)
	}
}

// TestPrepareAddsColumns checks that create_tables adds the published
// columns an existing table lacks (the source table gained them), with
// the source's types.
func TestPrepareAddsColumns(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CreateTables = true })
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY, name text)`)
	if err := e.tg.Prepare(applytest.Context(t), "s", []*router.TableSchema{items}); err != nil {
		t.Fatal(err)
	}
	got := e.rows(`SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position`)
	want := []string{"id integer", "name text", "note text", "qty integer"}
	if !slices.Equal(got, want) {
		t.Fatalf("columns %q, want %q", got, want)
	}
}

// TestReadReferences: Prepare finds the foreign keys of other tables that
// reference a target table, and names those whose ON DELETE action
// changes the referencing rows; a table's reference to itself does not
// count, since TRUNCATE empties both ends.
func TestReadReferences(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY, parent integer REFERENCES items)`,
		`CREATE TABLE orders (id integer PRIMARY KEY, item_id integer REFERENCES items)`,
		`CREATE TABLE lines (id integer PRIMARY KEY, item_id integer REFERENCES items ON DELETE CASCADE)`,
		`CREATE TABLE pairs (a integer, b text, v text, PRIMARY KEY (a, b), parent integer REFERENCES items)`)
	for _, tc := range []struct {
		table      string
		referenced bool
		cascading  []string
	}{
		{"items", true, []string{"lines.lines_item_id_fkey"}},
		{"pairs", false, nil}, // it references items, nothing references it
	} {
		ct, err := lookupTable(applytest.Context(t), e.conn, capture.TableID{Schema: "public", Name: tc.table})
		if err != nil {
			t.Fatal(err)
		}
		if ct.Referenced != tc.referenced || !slices.Equal(ct.Cascading, tc.cascading) {
			t.Errorf("%s: referenced %v, cascading %q; want %v, %q", tc.table, ct.Referenced, ct.Cascading, tc.referenced, tc.cascading)
		}
	}
	e.exec(`DROP TABLE orders, lines, pairs`)
	if ct, err := lookupTable(applytest.Context(t), e.conn, capture.TableID{Schema: "public", Name: "items"}); err != nil || ct.Referenced {
		t.Errorf("items referenced only by itself: referenced %v (error %v), want false", ct != nil && ct.Referenced, err)
	}
	e.exec(`TRUNCATE items`) // which PostgreSQL allows
}
