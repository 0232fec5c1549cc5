package mysql

import (
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
)

// pgTypes is a PostgreSQL table with a column of every mapped type.
var pgTypes = applytest.Schema("pgtypes", []string{"id", "code"},
	"id bigint", "code text", "i2 smallint", "i4 integer", "n numeric(10,2)", "nn numeric", "r real", "d double precision",
	"b boolean", "t text", "vc character varying(20)", "vcn character varying", "c character(3)", "by bytea", "dt date",
	"ts timestamp without time zone", "ts3 timestamp(3) without time zone", "tz timestamp with time zone", "tm time without time zone",
	"u uuid", "j json", "jb jsonb", "a integer[]", "iv interval", "bits bit(10)", "ip inet", "m mood", "ttz time with time zone")

// pgTypesColumns is what information_schema.columns says of pgTypes at
// MariaDB: name, COLUMN_TYPE, IS_NULLABLE.
var pgTypesColumns = []string{
	"id|bigint(20)|NO", "code|varchar(255)|NO", "i2|smallint(6)|YES", "i4|int(11)|YES", "n|decimal(10,2)|YES",
	"nn|decimal(65,30)|YES", "r|float|YES", "d|double|YES", "b|tinyint(1)|YES", "t|longtext|YES", "vc|varchar(20)|YES",
	"vcn|longtext|YES", "c|char(3)|YES", "by|longblob|YES", "dt|date|YES", "ts|datetime(6)|YES", "ts3|datetime(3)|YES",
	"tz|datetime(6)|YES", "tm|time(6)|YES", "u|char(36)|YES", "j|longtext|YES", "jb|longtext|YES", "a|longtext|YES",
	"iv|varchar(64)|YES", "bits|bit(10)|YES", "ip|varchar(43)|YES", "m|longtext|YES", "ttz|longtext|YES",
}

// myTypes is a MySQL table with a column of many types.
var myTypes = func() *router.TableSchema {
	ts := applytest.Schema("mytypes", []string{"id"}, "id int unsigned", "ti tinyint(1)", "bi bigint(20) unsigned", "dc decimal(10,2)",
		"f float", "db double", "bt bit(5)", "e enum('a','b''c','d\\\\e')", "st set('x','y')", "vc varchar(30)", "bin binary(4)",
		"vb varbinary(10)", "bl blob", "tx mediumtext", "dt date", "dtt datetime(6)", "tss timestamp", "tm time(3)", "y year(4)", "j json")
	ts.SourceKind = "mysql"
	return ts
}()

var myTypesColumns = []string{
	"id|int(10) unsigned|NO", "ti|tinyint(1)|YES", "bi|bigint(20) unsigned|YES", "dc|decimal(10,2)|YES", "f|float|YES",
	"db|double|YES", "bt|bit(5)|YES", `e|enum('a','b''c','d\\e')|YES`, "st|set('x','y')|YES", "vc|varchar(30)|YES",
	"bin|binary(4)|YES", "vb|varbinary(10)|YES", "bl|blob|YES", "tx|mediumtext|YES", "dt|date|YES", "dtt|datetime(6)|YES",
	"tss|timestamp|YES", "tm|time(3)|YES", "y|year(4)|YES", "j|longtext|YES",
}

func TestPrepareCreatesTables(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ScopeInfoTable = "meta.scope_info" })
	// Only some of the source's columns are published; the key is two
	// columns; the target name is in a database that does not exist yet;
	// names need quoting.
	subset := applytest.Schema("orders", []string{"id", "line"}, "id bigint", "line integer", "total numeric(10,2)")
	other := applytest.Schema("product", []string{"id"}, "id integer", "name character varying(20)")
	other.Target = capture.TableID{Schema: e.db + "_catalog", Name: "pro`duct"}
	e.prepare(subset, other, pgTypes, myTypes)
	e.prepare(subset, other, pgTypes, myTypes) // again: nothing to do

	cols := func(db, table string) []string {
		return e.rows(`SELECT column_name, column_type, is_nullable FROM information_schema.columns
			WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position`, db, table)
	}
	for _, tt := range []struct {
		db, table string
		want      []string
	}{
		{e.db, "orders", []string{"id|bigint(20)|NO", "line|int(11)|NO", "total|decimal(10,2)|YES"}},
		{e.db + "_catalog", "pro`duct", []string{"id|int(11)|NO", "name|varchar(20)|YES"}},
		{e.db, "pgtypes", pgTypesColumns},
		{e.db, "mytypes", myTypesColumns},
		{"meta", "scope_info", []string{"scope|varchar(255)|NO", "source|varchar(255)|NO", "scope_version|int(11)|NO",
			"definition|longtext|YES", "column_schema|longtext|YES", "last_position|varchar(32)|NO",
			"last_position_num|bigint(20) unsigned|NO", "last_stream_seq|bigint(20) unsigned|NO",
			"last_applied_at|datetime(6)|NO", "last_txn_apply_ms|double|NO", "rows_applied|bigint(20)|NO", "syncd_version|varchar(255)|NO",
			"backfill|varchar(255)|NO", "backfill_table|varchar(255)|NO", "backfill_rows|bigint(20)|NO"}},
	} {
		if got := cols(tt.db, tt.table); !slices.Equal(got, tt.want) {
			t.Errorf("columns of %s.%s:\n got %q\nwant %q", tt.db, tt.table, got, tt.want)
		}
	}
	keys := e.rows(`SELECT table_schema, table_name, GROUP_CONCAT(column_name ORDER BY seq_in_index) FROM information_schema.statistics
		WHERE index_name = 'PRIMARY' AND table_schema IN (?, ?, 'meta') GROUP BY table_schema, table_name ORDER BY table_schema, table_name`,
		e.db, e.db+"_catalog")
	wantKeys := []string{"meta|scope_info|scope,source", e.db + "|mytypes|id", e.db + "|orders|id,line", e.db + "|pgtypes|id,code", e.db + "_catalog|pro`duct|id"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("primary keys:\n got %q\nwant %q", keys, wantKeys)
	}
	if got := e.rows(`SELECT table_collation FROM information_schema.tables WHERE table_schema = ? AND table_name = 'orders'`, e.db); got[0] != "utf8mb4_nopad_bin" {
		t.Errorf("collation %q, want utf8mb4_nopad_bin", got)
	}

	// The created tables take changes.
	if err := e.run(false, applytest.Record(1),
		applytest.Change(subset, capture.OpInsert, `{"id":"1","line":2}`, "", `{"id":"1","line":2,"total":"9.99"}`),
		applytest.Change(other, capture.OpInsert, `{"id":1}`, "", `{"id":1,"name":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if got := e.rows("SELECT * FROM orders"); !slices.Equal(got, []string{"1|2|9.99"}) {
		t.Errorf("orders %q", got)
	}
}

func TestPrepareFails(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CreateTables = false })
	e.exec(`CREATE TABLE narrow (id integer PRIMARY KEY)`, `CREATE TABLE nokey (id integer, name text)`)
	tests := []struct {
		name string
		ts   *router.TableSchema
		want string
	}{
		{"missing table", applytest.Schema("absent", []string{"id"}, "id integer"),
			"target replica has no table " + e.db + ".absent; create it or set create_tables = true"},
		{"missing column", applytest.Schema("narrow", []string{"id"}, "id integer", "name text", "qty integer"),
			"target replica table " + e.db + ".narrow lacks published columns name, qty; add them"},
		{"no unique index on the key", applytest.Schema("nokey", []string{"id"}, "id integer", "name text"),
			"has no primary key or unique index on (id)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.tg.Prepare(applytest.Context(t), "s", []*router.TableSchema{tt.ts})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !retry.IsTerminal(err) {
				t.Errorf("Prepare = %v, want a terminal error containing %q", err, tt.want)
			}
		})
	}
}

func TestPrepareRejectsTypes(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		ts   *router.TableSchema
		want string
	}{
		{"wide numeric", applytest.Schema("wide", []string{"id"}, "id integer", "n numeric(100,2)"), "column n: numeric(100,2) does not fit MySQL's DECIMAL"},
		{"deep numeric", applytest.Schema("deep", []string{"id"}, "id integer", "n numeric(40,35)"), "column n: numeric(40,35) does not fit"},
		{"json key", applytest.Schema("jkey", []string{"j"}, "j jsonb"), "column j: jsonb cannot be a key column"},
		{"names one to MySQL", applytest.Schema("twice", nil, "a integer", "A integer"), "columns a and A are one name to MySQL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.tg.Prepare(applytest.Context(t), "s", []*router.TableSchema{tt.ts})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !retry.IsTerminal(err) {
				t.Errorf("Prepare = %v, want a terminal error containing %q", err, tt.want)
			}
		})
	}
}

func TestMapMySQLTypes(t *testing.T) {
	tests := []struct {
		typ, want string
		wantErr   bool
	}{
		{typ: "int(11)", want: "int(11)"},
		{typ: "INT UNSIGNED ZEROFILL", want: "int unsigned zerofill"},
		{typ: "decimal(10, 2)", want: "decimal(10,2)"},
		{typ: `enum('a','it''s','b\\c','d\'e')`, want: `enum('a','it''s','b\\c','d''e')`},
		{typ: "varchar(10); DROP TABLE x", wantErr: true},
		{typ: "int(1) -- x", wantErr: true},
		{typ: "enum('a", wantErr: true},
		{typ: "decimal(1e3)", wantErr: true},
	}
	for _, tt := range tests {
		m, err := mapMySQL(tt.typ)
		if (err != nil) != tt.wantErr || err == nil && m.ddl != tt.want {
			t.Errorf("mapMySQL(%q) = %q, %v; want %q, error %v", tt.typ, m.ddl, err, tt.want, tt.wantErr)
		}
	}
}
