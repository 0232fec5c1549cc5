package e2e

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/tdsfake"
	"github.com/syncd-dev/syncd/test/testenv"
)

// toMSUnrepresentable are PostgreSQL and MariaDB columns no SQL Server
// column that create_tables makes holds (docs/type-mapping.md): each
// stops its scope at start with an error naming the type and the fix.
var toMSUnrepresentable = []struct {
	engine, table, ddl, want string
}{
	{"postgres", "wide", "CREATE TABLE wide (id integer PRIMARY KEY, v numeric(50,2))", "numeric(50,2) does not fit SQL Server's DECIMAL"},
	{"postgres", "jkey", "CREATE TABLE jkey (id jsonb PRIMARY KEY)", "jsonb cannot be a key column at SQL Server"},
	{"mysql", "wide", "CREATE TABLE wide (id int PRIMARY KEY, v decimal(65,30))", "decimal(65,30) does not fit SQL Server's DECIMAL"},
}

// toMSUnrepresentableConfig has a scope per toMSUnrepresentable table,
// bad<i>, from PostgreSQL source pgodd (pgDSN, schema public) or MariaDB
// source myodd (myDSN, database odd_shop) into SQL Server target mssql at
// dsn, which creates its tables.
func toMSUnrepresentableConfig(pgDSN, myDSN, dsn string) string {
	var b strings.Builder
	b.WriteString(toMSHeader("pgodd", pgDSN, "myodd", myDSN, 4002, dsn))
	for i, u := range toMSUnrepresentable {
		source, schema := "pgodd", "public"
		if u.engine == "mysql" {
			source, schema = "myodd", "odd_shop"
		}
		fmt.Fprintf(&b, `scope "bad%d" {
  source  = %q
  targets = ["mssql"]
  table "%s.%s" { target = "dbo.bad%d" }
}
`, i, source, schema, u.table, i)
	}
	return b.String()
}

// startToMSUnrepresentable creates toMSUnrepresentable's tables in new
// databases odd_app at pg and odd_shop at my and returns their DSNs.
func startToMSUnrepresentable(t *testing.T, pg *testenv.Postgres, my *testenv.MariaDB) (pgDSN, myDSN string) {
	pgDSN, myDSN = pg.CreateDB(t, "odd_app"), my.CreateDB(t, "odd_shop")
	for _, u := range toMSUnrepresentable {
		if u.engine == "postgres" {
			pg.Exec(t, "odd_app", u.ddl)
		} else {
			my.Exec(t, "odd_shop", u.ddl)
		}
	}
	return pgDSN, myDSN
}

// checkToMSUnrepresentable waits until /readyz reports each scope of
// toMSUnrepresentableConfig stopped with its type's error and the fix.
func checkToMSUnrepresentable(t *testing.T, d *testenv.Syncd) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		code, body := getStatus(t, d.AdminURL+"/readyz")
		for i, u := range toMSUnrepresentable {
			at := strings.Index(body, fmt.Sprintf(`"scope/bad%d/target/mssql"`, i))
			if code == 200 || at < 0 {
				return fmt.Errorf("/readyz %d has no cause for scope bad%d (%s): %s", code, i, u.ddl, body)
			}
			cause, _, _ := strings.Cut(body[at:], "}")
			if !strings.Contains(cause, `"apply_failed"`) || !strings.Contains(cause, u.want) || !strings.Contains(cause, "create_tables = false") && !strings.Contains(cause, "key column") {
				return fmt.Errorf("/readyz cause for %s: %s; want apply_failed, %q and the fix", u.ddl, cause, u.want)
			}
		}
		return nil
	})
}

// toMSCol is one column of the type matrix into SQL Server: its type
// at the PostgreSQL or MariaDB source, the source's literals of rows 1
// and 2 (row 3 is NULL everywhere), the SQL Server type create_tables
// gives it (docs/type-mapping.md), how to read it there (T-SQL over
// %[1]s; "" for the column, read by msRows) and what that reads of rows
// 1-3.
type toMSCol struct {
	name, def string
	lits      [2]string
	msType    string
	read      string
	want      [3]string // rows 1, 2 and 3; "" in row 3 is NULL
}

// jsonRead reads JSON text stored at SQL Server by whether it is JSON
// and the value at path, not by its spacing, which the source decides
// (NULL reads " ": ISJSON(NULL) is NULL, which CONCAT makes ”).
const jsonRead = "CONCAT(ISJSON(%[1]s), ' ', JSON_VALUE(%[1]s, '%[2]s'))"

var (
	pgToMS = []toMSCol{
		{"i2", "smallint", [2]string{"-32768", "32767"}, "smallint", "", [3]string{"-32768", "32767"}},
		{"i4", "integer", [2]string{"-2147483648", "2147483647"}, "int", "", [3]string{"-2147483648", "2147483647"}},
		{"i8", "bigint", [2]string{"-9223372036854775808", "9223372036854775807"}, "bigint", "", [3]string{"-9223372036854775808", "9223372036854775807"}},
		{"n38", "numeric(38,10)", [2]string{"-9999999999999999999999999999.9999999999", "0.0000000001"}, "decimal(38,10)", "",
			[3]string{"-9999999999999999999999999999.9999999999", "0.0000000001"}},
		// numeric without precision: DECIMAL(38,18).
		{"nu", "numeric", [2]string{"123456789012345678.123456789012345678", "-1"}, "decimal(38,18)", "",
			[3]string{"123456789012345678.123456789012345678", "-1.000000000000000000"}},
		{"r", "real", [2]string{"-3.4028235e+38", "1.1754944e-38"}, "real", "", [3]string{"-3.4028235e+38", "1.1754944e-38"}},
		{"f8", "double precision", [2]string{"-1.7976931348623157e+308", "2.2250738585072014e-308"}, "float", "",
			[3]string{"-1.7976931348623157e+308", "2.2250738585072014e-308"}},
		{"bo", "boolean", [2]string{"true", "false"}, "bit", "", [3]string{"true", "false"}},
		{"tx", "text", [2]string{"'it''s 😀 中文'", "''"}, "nvarchar(max)", "", [3]string{"it's 😀 中文", ""}},
		{"vc", "varchar(10)", [2]string{"'ñandú'", "''"}, "nvarchar(10)", "", [3]string{"ñandú", ""}},
		// character(n) travels padded; NCHAR(n) keeps the padding.
		{"ch", "char(5)", [2]string{"'ab'", "''"}, "nchar(5)", "", [3]string{"ab   ", "     "}},
		{"by", "bytea", [2]string{`'\x00ff'`, `'\x'`}, "varbinary(max)", "", [3]string{"00FF", ""}},
		{"d", "date", [2]string{"'0001-01-01'", "'9999-12-31'"}, "date", "", [3]string{"0001-01-01", "9999-12-31"}},
		{"ts", "timestamp(6)", [2]string{"'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'"}, "datetime2(6)", "",
			[3]string{"0001-01-01 00:00:00", "9999-12-31 23:59:59.999999"}},
		// timestamptz: the instant at offset +00:00.
		{"tz", "timestamptz(6)", [2]string{"'2024-01-02 03:04:05.123456+14'", "'1970-01-01 00:00:00+00'"}, "datetimeoffset(6)", "",
			[3]string{"2024-01-01 13:04:05.123456 +00:00", "1970-01-01 00:00:00 +00:00"}},
		{"tm", "time(6)", [2]string{"'00:00:00'", "'23:59:59.999999'"}, "time(6)", "", [3]string{"00:00:00", "23:59:59.999999"}},
		{"tt", "timetz", [2]string{"'10:00:00+02'", "'00:00:00-14'"}, "nvarchar(max)", "", [3]string{"10:00:00+02", "00:00:00-14"}},
		{"u", "uuid", [2]string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"}, "uniqueidentifier", "",
			[3]string{"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "00000000-0000-0000-0000-000000000000"}},
		{"j", "jsonb", [2]string{`'{"b": [1, 2.5], "a": null}'`, "'[]'"}, "nvarchar(max)", fmt.Sprintf(jsonRead, "%[1]s", "$.b[1]"), [3]string{"1 2.5", "1 ", " "}},
		{"ar", "integer[]", [2]string{"'{1,NULL,3}'", "'{}'"}, "nvarchar(max)", fmt.Sprintf(jsonRead, "%[1]s", "$[2]"), [3]string{"1 3", "1 ", " "}},
		// interval: ISO 8601 text (the source's IntervalStyle iso_8601).
		{"iv", "interval", [2]string{"'1 day 02:03:04'", "'-00:00:01.5'"}, "nvarchar(64)", "", [3]string{"P1DT2H3M4S", "PT-1.5S"}},
		{"ip", "inet", [2]string{"'192.168.0.1/24'", "'::1'"}, "nvarchar(43)", "", [3]string{"192.168.0.1/24", "::1"}},
		{"mac", "macaddr", [2]string{"'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'"}, "nvarchar(17)", "", [3]string{"08:00:2b:01:02:03", "ff:ff:ff:ff:ff:ff"}},
		// Anything else: its text form.
		{"bt", "bit(3)", [2]string{"B'101'", "B'000'"}, "nvarchar(max)", "", [3]string{"101", "000"}},
	}
	myToMS = []toMSCol{
		{"ti", "tinyint", [2]string{"-128", "127"}, "smallint", "", [3]string{"-128", "127"}},
		{"tu", "tinyint unsigned", [2]string{"0", "255"}, "tinyint", "", [3]string{"0", "255"}},
		{"mi", "mediumint", [2]string{"-8388608", "8388607"}, "int", "", [3]string{"-8388608", "8388607"}},
		{"iu", "int unsigned", [2]string{"0", "4294967295"}, "bigint", "", [3]string{"0", "4294967295"}},
		{"bu", "bigint unsigned", [2]string{"18446744073709551615", "0"}, "decimal(20,0)", "", [3]string{"18446744073709551615", "0"}},
		{"d", "decimal(38,10)", [2]string{"-9999999999999999999999999999.9999999999", "0.0000000001"}, "decimal(38,10)", "",
			[3]string{"-9999999999999999999999999999.9999999999", "0.0000000001"}},
		{"f", "float", [2]string{"1.5", "-0.25"}, "real", "", [3]string{"1.5", "-0.25"}},
		{"db", "double", [2]string{"-1.7976931348623157e308", "2.2250738585072014e-308"}, "float", "",
			[3]string{"-1.7976931348623157e+308", "2.2250738585072014e-308"}},
		{"bt", "bit(5)", [2]string{"b'10101'", "b'0'"}, "varchar(5)", "", [3]string{"10101", "00000"}},
		{"e", "enum('a','b c')", [2]string{"'b c'", "'a'"}, "nvarchar(max)", "", [3]string{"b c", "a"}},
		{"s", "set('x','y')", [2]string{"'x,y'", "''"}, "nvarchar(max)", "", [3]string{"x,y", ""}},
		// MySQL drops CHAR's trailing spaces when read; NCHAR(5) pads again.
		{"c", "char(5)", [2]string{"'ab'", "''"}, "nchar(5)", "", [3]string{"ab   ", "     "}},
		{"vc", "varchar(10) CHARACTER SET utf8mb4", [2]string{"'😀中'", "''"}, "nvarchar(10)", "", [3]string{"😀中", ""}},
		{"bn", "binary(4)", [2]string{"x'61'", "x'FFFFFFFF'"}, "binary(4)", "", [3]string{"61000000", "FFFFFFFF"}},
		{"vb", "varbinary(10)", [2]string{"x'00FF'", "x''"}, "varbinary(10)", "", [3]string{"00FF", ""}},
		{"bl", "blob", [2]string{"x'0102'", "x''"}, "varbinary(max)", "", [3]string{"0102", ""}},
		{"dt", "date", [2]string{"'1000-01-01'", "'9999-12-31'"}, "date", "", [3]string{"1000-01-01", "9999-12-31"}},
		{"dtm", "datetime(6)", [2]string{"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'"}, "datetime2(6)", "",
			[3]string{"1000-01-01 00:00:00", "9999-12-31 23:59:59.999999"}},
		{"ts", "timestamp(6) NULL", [2]string{"'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'"}, "datetimeoffset(6)", "",
			[3]string{"1970-01-01 00:00:01 +00:00", "2038-01-19 03:14:07.999999 +00:00"}},
		// TIME holds ±838 hours, SQL Server's one day: MySQL's text.
		{"tm", "time(6)", [2]string{"'-838:59:59'", "'12:00:00'"}, "nvarchar(20)", "", [3]string{"-838:59:59.000000", "12:00:00.000000"}},
		{"yr", "year", [2]string{"2155", "1901"}, "smallint", "", [3]string{"2155", "1901"}},
		// MariaDB's JSON is LONGTEXT: the text as stored.
		{"j", "JSON", [2]string{`'{"a": 1}'`, "'[]'"}, "nvarchar(max)", "", [3]string{`{"a": 1}`, "[]"}},
	}
)

// toMSTable returns the CREATE TABLE and the INSERT of rows base+1 to
// base+3 of table matrix with cols.
func toMSTable(cols []toMSCol, base int) (create, insert string) {
	defs, names := []string{"id integer PRIMARY KEY"}, []string{"id"}
	rows := [3][]string{{fmt.Sprint(base + 1)}, {fmt.Sprint(base + 2)}, {fmt.Sprint(base + 3)}}
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.def)
		names = append(names, c.name)
		rows[0], rows[1], rows[2] = append(rows[0], c.lits[0]), append(rows[1], c.lits[1]), append(rows[2], "NULL")
	}
	var vals []string
	for _, r := range rows {
		vals = append(vals, "("+strings.Join(r, ", ")+")")
	}
	return "CREATE TABLE matrix (" + strings.Join(defs, ", ") + ")",
		"INSERT INTO matrix (" + strings.Join(names, ", ") + ") VALUES " + strings.Join(vals, ", ")
}

// checkToMS waits until SQL Server table holds rows ids, then checks
// each column's type and values (row id's values are those of row
// (id-1)%10+1; row 3 is NULL).
func checkToMS(t *testing.T, db *sql.DB, table string, cols []toMSCol, ids ...int) {
	t.Helper()
	var want []string
	for _, id := range ids {
		want = append(want, fmt.Sprint(id))
	}
	msWait(t, db, "the rows of "+table, "SELECT id FROM "+table+" ORDER BY id", want...)
	types, err := msColumnTypes(db, table)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		if types[c.name] != c.msType {
			t.Errorf("%s.%s (%s): SQL Server type %q, want %q", table, c.name, c.def, types[c.name], c.msType)
		}
		read := c.read
		if read == "" {
			read = "%[1]s"
		}
		var want []string
		for _, id := range ids {
			r := (id - 1) % 10
			want = append(want, orNull(c.want[r], r))
		}
		got, err := msRows(db, fmt.Sprintf("SELECT "+read+" FROM %[2]s ORDER BY id", c.name, table))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s.%s (%s) at SQL Server: %q, %v; want %q", table, c.name, c.def, got, err, want)
		}
	}
}

// TestRealServerTypeMatrixToSQLServer (layer 4, never run): the syncd
// binary replicates a PostgreSQL table and a MariaDB table with a column
// of every type docs/type-mapping.md maps to SQL Server, edge values and
// NULLs, into a real SQL Server whose tables create_tables makes: rows
// 1-3 by the initial copy, rows 11-13 (the same values) by the log; each
// column's SQL Server type and values are checked. See the top of
// mssqlreal_test.go and mssqlmatrix_test.go for the documentation each
// expectation rests on.
func TestRealServerTypeMatrixToSQLServer(t *testing.T) {
	msDSN, ms := msTrackedDB(t)
	pg := testenv.StartPostgres(t)
	pgDSN := pg.CreateDB(t, "app")
	my := testenv.StartMariaDB(t)
	myDSN := my.CreateDB(t, "shop")
	pgCreate, pgInsert := toMSTable(pgToMS, 0)
	myCreate, myInsert := toMSTable(myToMS, 0)
	pg.Exec(t, "app", pgCreate, pgInsert)
	my.Exec(t, "shop", myCreate, myInsert)
	d := newDaemon(t, toMSMatrixConfig(pgDSN, myDSN, msDSN))
	d.Start()
	checkToMS(t, ms, "dbo.from_pg", pgToMS, 1, 2, 3)
	checkToMS(t, ms, "dbo.from_maria", myToMS, 1, 2, 3)
	_, pgInsert = toMSTable(pgToMS, 10)
	_, myInsert = toMSTable(myToMS, 10)
	pg.Exec(t, "app", pgInsert)
	my.Exec(t, "shop", myInsert)
	checkToMS(t, ms, "dbo.from_pg", pgToMS, 1, 2, 3, 11, 12, 13)
	checkToMS(t, ms, "dbo.from_maria", myToMS, 1, 2, 3, 11, 12, 13)
}

// toMSMatrixConfig replicates the matrix tables of toMSTable from
// PostgreSQL source app (pgDSN) and MariaDB source shop (myDSN) into
// dbo.from_pg and dbo.from_maria at SQL Server target mssql (dsn), which
// creates them.
func toMSMatrixConfig(pgDSN, myDSN, dsn string) string {
	return toMSHeader("app", pgDSN, "shop", myDSN, 4001, dsn) + `
scope "from_pg" {
  source  = "app"
  targets = ["mssql"]
  table "public.matrix" { target = "dbo.from_pg" }
}
scope "from_maria" {
  source  = "shop"
  targets = ["mssql"]
  table "shop.matrix" { target = "dbo.from_maria" }
}
`
}

// toMSHeader is the start of a config with PostgreSQL source pgName at
// pgDSN, MariaDB source myName at myDSN (serverID), and SQL Server target
// mssql at dsn, which creates its tables.
func toMSHeader(pgName, pgDSN, myName, myDSN string, serverID int, dsn string) string {
	return fmt.Sprintf(`
source "postgres" %q { dsn = %q }
source "mysql" %q {
  dsn       = %q
  server_id = %d
}
target "sqlserver" "mssql" {
  dsn           = %q
  create_tables = true
}
`, pgName, pgDSN, myName, myDSN, serverID, dsn)
}

// TestTypeMatrixToSQLServerOverTDS is layer 3 of the matrix into SQL
// Server, on one PostgreSQL and one MariaDB:
//   - values: the same PostgreSQL and MariaDB tables as
//     TestRealServerTypeMatrixToSQLServer, real sources, replicated by
//     the syncd binary into the TDS wire FAKE's Store, which holds the
//     tables create_tables makes and the parameters the target sends. It
//     checks the SQL Server type create_tables writes for every column
//     and that rows 1-3 (copied) and 11-13 (from the log) arrive, with
//     every value of rows 1 and 2 sent and row 3 NULL in every column. It
//     does not check what SQL Server stores for those parameters (the
//     Store keeps them as sent) nor that it accepts the DDL: that is
//     layer 4.
//   - unrepresentable: columns no SQL Server column holds stop each scope
//     at start with the type's error and its fix, before any CREATE
//     TABLE. That the error comes before SQL Server would be asked is what
//     this proves; that SQL Server refuses DECIMAL(50,2) is Microsoft's
//     word (precision at most 38).
func TestTypeMatrixToSQLServerOverTDS(t *testing.T) {
	pg, my := testenv.StartPostgres(t), testenv.StartMariaDB(t)
	t.Run("values", func(t *testing.T) { toMSMatrixOverTDS(t, pg, my) })
	t.Run("unrepresentable", func(t *testing.T) {
		f := tdsfake.New(t, nil)
		f.Handler = tdsfake.NewStore()
		pgDSN, myDSN := startToMSUnrepresentable(t, pg, my)
		d := newDaemon(t, toMSUnrepresentableConfig(pgDSN, myDSN, f.DSN()))
		d.StartAlive()
		checkToMSUnrepresentable(t, d)
		for _, s := range f.Statements() {
			if strings.HasPrefix(s, "CREATE TABLE") && strings.Contains(s, "[bad") {
				t.Errorf("the target created a table whose type it cannot hold:\n%s", s)
			}
		}
	})
}

// toMSMatrixOverTDS is TestTypeMatrixToSQLServerOverTDS's values.
func toMSMatrixOverTDS(t *testing.T, pg *testenv.Postgres, my *testenv.MariaDB) {
	f := tdsfake.New(t, nil)
	st := tdsfake.NewStore()
	f.Handler = st
	pgDSN := pg.CreateDB(t, "app")
	myDSN := my.CreateDB(t, "shop")
	pgCreate, pgInsert := toMSTable(pgToMS, 0)
	myCreate, myInsert := toMSTable(myToMS, 0)
	pg.Exec(t, "app", pgCreate, pgInsert)
	my.Exec(t, "shop", myCreate, myInsert)
	d := newDaemon(t, toMSMatrixConfig(pgDSN, myDSN, f.DSN()))
	d.Start()
	check := func(table string, cols []toMSCol, ids ...int) {
		t.Helper()
		testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
			if got := st.Rows(table); len(got) != len(ids) {
				return fmt.Errorf("%s holds %d rows, want %d: %q", table, len(got), len(ids), got)
			}
			return nil
		})
		types := map[string]string{}
		for _, c := range st.Columns(table) {
			types[c.Name] = strings.ToLower(c.DDL)
		}
		for _, c := range cols {
			if types[c.name] != c.msType {
				t.Errorf("%s.%s (%s): create_tables wrote %q, want %q", table, c.name, c.def, types[c.name], c.msType)
			}
		}
		for _, row := range st.Rows(table) {
			id, _, _ := strings.Cut(strings.TrimPrefix(row, "id="), " ")
			null := id == "3" || id == "13"
			for _, c := range cols {
				_, v, _ := strings.Cut(row, " "+c.name+"=")
				isNull := strings.HasPrefix(v, "NULL ") || v == "NULL" || strings.HasPrefix(v, "NULL:")
				if isNull != null {
					t.Errorf("%s row %s column %s (%s): sent %.40q…, want NULL %v", table, id, c.name, c.def, v, null)
				}
			}
		}
	}
	check("[dbo].[from_pg]", pgToMS, 1, 2, 3)
	check("[dbo].[from_maria]", myToMS, 1, 2, 3)
	_, pgInsert = toMSTable(pgToMS, 10)
	_, myInsert = toMSTable(myToMS, 10)
	pg.Exec(t, "app", pgInsert)
	my.Exec(t, "shop", myInsert)
	check("[dbo].[from_pg]", pgToMS, 1, 2, 3, 11, 12, 13)
	check("[dbo].[from_maria]", myToMS, 1, 2, 3, 11, 12, 13)
}

// TestPostgresToSQLServerKeysOverTDS is TestRealServerPostgresToSQLServer's
// scenario at layer 3: a real PostgreSQL source through JetStream and the
// syncd binary's SQL Server target into the TDS wire FAKE's Store.
// Table items is created by create_tables; ledger exists with an IDENTITY
// key, which the target brackets with SET IDENTITY_INSERT. The copy,
// then an insert, updates to and from NULL, a delete and a key change
// arrive as the parameters the Store applied by shape, and the scope's
// checkpoint row holds a position. What SQL Server makes of the
// statements is left to layer 4.
func TestPostgresToSQLServerKeysOverTDS(t *testing.T) {
	f := tdsfake.New(t, nil)
	st := tdsfake.NewStore()
	f.Handler = st
	st.AddTable("[dbo].[ledger]", []string{"id"},
		tdsfake.Column{Name: "id", Type: "int", Identity: true}, tdsfake.Column{Name: "note", Type: "nvarchar"})
	pg := testenv.StartPostgres(t)
	src := pg.CreateDB(t, "app")
	pg.Exec(t, "app",
		`CREATE TABLE items (id integer PRIMARY KEY, name text, qty bigint, data bytea)`,
		`CREATE TABLE ledger (id integer PRIMARY KEY, note text)`,
		`INSERT INTO items VALUES (1, 'один', 1099511627776, '\xdead'), (2, NULL, NULL, NULL)`,
		`INSERT INTO ledger VALUES (1, 'first'), (5, 'fifth')`)
	d := newDaemon(t, pgToMSItemsConfig(src, f.DSN()))
	d.Start()
	wait := func(what, table string, want ...string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
			if got := st.Rows(table); !slices.Equal(got, want) {
				return fmt.Errorf("%s: the fake's %s holds %q, want %q", what, table, got, want)
			}
			return nil
		})
	}
	wait("the copy", "[dbo].[items]", "id=1 name=один qty=1099511627776 data=[222 173]", "id=2 name=NULL qty=NULL data=NULL:varbinary")
	wait("the copy", "[dbo].[ledger]", "id=1 note=first", "id=5 note=fifth")
	pg.Exec(t, "app",
		`INSERT INTO items VALUES (3, 'three', 3, '\x')`,
		`UPDATE items SET name = 'two', qty = -2 WHERE id = 2`,
		`UPDATE items SET data = NULL WHERE id = 1`,
		`DELETE FROM items WHERE id = 1`,
		`UPDATE items SET id = 30 WHERE id = 3`,
		`INSERT INTO ledger VALUES (9, 'ninth')`,
		`UPDATE ledger SET note = NULL WHERE id = 5`,
		`DELETE FROM ledger WHERE id = 1`)
	wait("the changes", "[dbo].[items]", "id=2 name=two qty=-2 data=NULL:varbinary", "id=30 name=three qty=3 data=[]")
	wait("the changes", "[dbo].[ledger]", "id=5 note=NULL", "id=9 note=ninth")
	var on, off int
	for _, s := range f.Statements() {
		on += strings.Count(s, "SET IDENTITY_INSERT [dbo].[ledger] ON")
		off += strings.Count(s, "SET IDENTITY_INSERT [dbo].[ledger] OFF")
		if strings.Contains(s, "IDENTITY_INSERT [dbo].[items]") {
			t.Errorf("IDENTITY_INSERT for items, whose key is no identity:\n%s", s)
		}
	}
	if on == 0 || on != off {
		t.Errorf("SET IDENTITY_INSERT [dbo].[ledger] ON %d times, OFF %d times; want as many, at least once", on, off)
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		if si := st.ScopeInfo("items", "app"); len(si) < 6 || si[5] == nil || si[5] == "" {
			return fmt.Errorf("scope_info row %v, want one with a position", si)
		}
		return nil
	})
}
