package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/test/testenv"
)

// matrixCol is one column of shop.matrix: its definition at the MariaDB
// source, the SQL literals of rows 1-3 (row 4 is NULL in every column),
// how it reads as comparable text at MySQL (the same expression on the
// source and on the round-trip table), the type create_tables gives it at
// PostgreSQL and then back at MariaDB (docs/type-mapping.md), and, for a
// column whose round trip changes the value's form, that form for rows
// 1-3. A column without it must read back exactly as at the source.
type matrixCol struct {
	name, def string
	lits      [3]string
	read      string // SQL over %[1]s, the column
	pgType    string // format_type at PostgreSQL
	backType  string // COLUMN_TYPE at the round-trip MariaDB, integer display widths dropped
	back      []string
}

var (
	ones64     = strings.Repeat("1", 64)
	matrixCols = []matrixCol{
		{"ti", "tinyint", [3]string{"-128", "127", "0"}, "", "smallint", "smallint", nil},
		{"tu", "tinyint unsigned", [3]string{"0", "255", "1"}, "", "smallint", "smallint", nil},
		{"si", "smallint", [3]string{"-32768", "32767", "0"}, "", "smallint", "smallint", nil},
		{"mi", "mediumint", [3]string{"-8388608", "8388607", "0"}, "", "integer", "int", nil},
		{"i", "int", [3]string{"-2147483648", "2147483647", "0"}, "", "integer", "int", nil},
		{"iu", "int unsigned", [3]string{"0", "4294967295", "1"}, "", "bigint", "bigint", nil},
		{"bi", "bigint", [3]string{"-9223372036854775808", "9223372036854775807", "0"}, "", "bigint", "bigint", nil},
		{"bu", "bigint unsigned", [3]string{"0", "18446744073709551615", "9007199254740993"}, "", "numeric(20,0)", "decimal(20,0)", nil},
		{"d65", "decimal(65,30)", [3]string{
			"-99999999999999999999999999999999999.999999999999999999999999999999",
			"12345678901234567890123456789012345.123456789012345678901234567890",
			"0.000000000000000000000000000001"}, "", "numeric(65,30)", "decimal(65,30)", nil},
		{"d10", "decimal(10,2)", [3]string{"-99999999.99", "99999999.99", "0.1"}, "", "numeric(10,2)", "decimal(10,2)", nil},
		// FLOAT and DOUBLE read as the double they hold, all 17 digits, so
		// that a changed bit shows. -3.4028234e38 is stored as -FLT_MAX,
		// whose shortest text is -3.4028235e+38.
		{"f", "float", [3]string{"-3.4028234e38", "1.17549435e-38", "3.1415927"}, "CAST(CAST(%[1]s AS DOUBLE) AS CHAR)", "real", "float", nil},
		{"db", "double", [3]string{"-1.7976931348623157e308", "2.2250738585072014e-308", "0.1"}, "CAST(CAST(%[1]s AS DOUBLE) AS CHAR)", "double precision", "double", nil},
		{"b1", "bit(1)", [3]string{"b'0'", "b'1'", "b'1'"}, "BIN(%[1]s)", "bit(1)", "bit(1)", nil},
		{"b64", "bit(64)", [3]string{"b'0'", "b'" + ones64 + "'", "b'1" + strings.Repeat("0", 62) + "1'"}, "BIN(%[1]s)", "bit(64)", "bit(64)", nil},
		// ENUM and SET keep their values as text; the member lists are
		// lost (the round trip has a LONGTEXT column).
		{"e", "enum('small','it''s','ümlaut')", [3]string{"'small'", "'it''s'", "'ümlaut'"}, "", "text", "longtext", nil},
		{"s", "set('x','y','z')", [3]string{"''", "'x,y,z'", "'z,x'"}, "", "text", "longtext", nil},
		{"dt", "date", [3]string{"'1000-01-01'", "'9999-12-31'", "'2024-02-29'"}, "", "date", "date", nil},
		{"dtm", "datetime(6)", [3]string{"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2024-01-02 03:04:05.123456'"}, "",
			"timestamp(6) without time zone", "datetime(6)", nil},
		// TIMESTAMP is an instant: PostgreSQL's timestamptz, and back a
		// DATETIME in UTC (all sessions here are UTC), which reads the same.
		{"ts", "timestamp(6) NULL", [3]string{"'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'", "'2024-01-02 03:04:05.000001'"}, "",
			"timestamp(6) with time zone", "datetime(6)", nil},
		// TIME becomes an interval, which the PostgreSQL source writes in
		// ISO 8601 (IntervalStyle iso_8601) and MySQL keeps as that text.
		{"tm", "time(6)", [3]string{"'-838:59:59'", "'838:59:59'", "'-00:00:01.5'"}, "", "interval", "varchar(64)",
			[]string{"PT-838H-59M-59S", "PT838H59M59S", "PT-1.5S"}},
		// YEAR becomes SMALLINT: compared as numbers (YEAR 0 reads 0000).
		{"yr", "year", [3]string{"1901", "2155", "0"}, "CAST(%[1]s+0 AS CHAR)", "smallint", "smallint", nil},
		// CHAR: PostgreSQL pads to 10, MySQL strips trailing spaces when read.
		{"c", "char(10)", [3]string{"''", "'abcdefghij'", "'ab'"}, "", "character(10)", "char(10)", nil},
		{"vu", "varchar(50) CHARACTER SET utf8mb4", [3]string{"''", "'😀 emoji ✓ 中文'", "'it''s a \\\\ backslash'"}, "",
			"character varying(50)", "varchar(50)", nil},
		// latin1 (Windows-1252) text arrives as UTF-8 and stays UTF-8: the
		// characters are the same, the bytes are not.
		{"vl", "varchar(50) CHARACTER SET latin1", [3]string{"''", "'é€'", "'ÿþ ‰'"}, "", "character varying(50)", "varchar(50)", nil},
		{"tx", "text", [3]string{"''", "'line 1\\nline 2 😀'", "'tab\\there'"}, "", "text", "longtext", nil},
		{"bn", "binary(4)", [3]string{"x'00000000'", "x'FFFFFFFF'", "x'6100'"}, "HEX(%[1]s)", "bytea", "longblob", nil},
		{"vb", "varbinary(10)", [3]string{"x''", "x'00FF00FF00FF00FF00FF'", "x'00'"}, "HEX(%[1]s)", "bytea", "longblob", nil},
		{"bl", "blob", [3]string{"x''", "x'000102FF'", "'text'"}, "HEX(%[1]s)", "bytea", "longblob", nil},
		// MariaDB's JSON is LONGTEXT with a check: its text travels as text.
		{"j", "JSON", [3]string{"'{}'", `'{"b": [1, 2.50, "é😀"], "a": null}'`, "'[1, 2.5e3, true]'"}, "", "text", "longtext", nil},
	}
)

// matrixMiddle are values the PostgreSQL hop must hold, as its output
// functions write them (concat keeps character(n)'s padding, which a cast
// to text drops) in a UTC session with the default IntervalStyle.
var matrixMiddle = []struct {
	col  string
	id   int
	want string
}{
	{"bu", 2, "18446744073709551615"},
	{"d65", 1, "-99999999999999999999999999999999999.999999999999999999999999999999"},
	{"d65", 3, "0.000000000000000000000000000001"},
	{"d10", 3, "0.10"},
	{"b64", 2, ones64},
	{"b64", 1, strings.Repeat("0", 64)},
	{"ts", 1, "1970-01-01 00:00:01+00"},
	{"ts", 2, "2038-01-19 03:14:07.999999+00"},
	{"dtm", 2, "9999-12-31 23:59:59.999999"},
	{"tm", 1, "-838:59:59"},
	{"tm", 3, "-00:00:01.5"},
	{"c", 3, "ab        "},
	{"vl", 2, "é€"},
	{"s", 3, "x,z"},
	{"e", 2, "it's"},
	{"bn", 3, `\x61000000`},
	{"yr", 3, "0"},
	{"f", 1, "-3.4028235e+38"},
	{"f", 3, "3.1415927"},
	{"db", 2, "2.2250738585072014e-308"},
}

// TestTypeMatrix replicates a row of every MySQL type with edge values,
// and a row of NULLs, from MariaDB to PostgreSQL (create_tables), and
// from there with a PostgreSQL source back to MariaDB (create_tables),
// each row once through the initial snapshot and once through the
// binlog. Every column compares equal at both ends, except those whose
// round trip changes the form by design, which must hold the documented
// form. A table with a zero date, which PostgreSQL cannot store, stops
// its own scope with the row and PostgreSQL's error in /readyz while the
// matrix scope goes on.
func TestTypeMatrix(t *testing.T) {
	src, pg, round := testenv.StartMariaDB(t), testenv.StartPostgres(t), testenv.StartMariaDB(t, testenv.WithServerID(2))
	srcDSN := src.CreateDB(t, "shop")
	pgDSN := pg.CreateDB(t, "replica")
	roundDSN := round.CreateDB(t, "syncd")

	defs := []string{"id int PRIMARY KEY"}
	for _, c := range matrixCols {
		defs = append(defs, c.name+" "+c.def)
	}
	src.Exec(t, "shop",
		"CREATE TABLE matrix ("+strings.Join(defs, ", ")+") DEFAULT CHARSET utf8mb4",
		"CREATE TABLE bad (id int PRIMARY KEY, d date, dtm datetime)")
	src.Exec(t, "shop", matrixInserts(0)...) // read by the snapshot

	// Leg 1: MariaDB → PostgreSQL, and a scope that cannot be applied.
	d1 := newDaemon(t, fmt.Sprintf(`
source "mysql" "shop" {
  dsn       = %q
  server_id = 4001
}
target "postgres" "pg" {
  dsn           = %q
  create_tables = true
}
scope "matrix" {
  source  = "shop"
  targets = ["pg"]
  table "shop.matrix" {}
}
scope "bad" {
  source         = "shop"
  targets        = ["pg"]
  snapshot       = "never"
  on_apply_error = "stop"
  table "shop.bad" {}
}`, srcDSN, pgDSN))
	d1.Start()
	waitPGCount(t, pgDSN, "shop.matrix", 4)

	// A zero date: the scope stops at that transaction, naming the row
	// and PostgreSQL's error; the row before it is applied.
	src.Exec(t, "shop",
		"SET SESSION sql_mode = ''",
		"INSERT INTO bad VALUES (1, '2024-01-01', '2024-01-01 10:00:00')",
		"INSERT INTO bad VALUES (2, '0000-00-00', '2024-00-10 00:00:00')",
		"INSERT INTO bad VALUES (3, '2024-01-03', '2024-01-03 10:00:00')")
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		code, body := getStatus(t, d1.AdminURL+"/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"apply_failed"`) || !strings.Contains(body, "scope/bad/target/pg") ||
			!strings.Contains(body, `key {\"id\":2}`) || !strings.Contains(body, "date/time field value out of range") {
			return fmt.Errorf("/readyz %d %s", code, body)
		}
		return nil
	})
	// The matrix scope goes on: the same rows again, through the binlog.
	src.Exec(t, "shop", matrixInserts(100)...)
	waitPGCount(t, pgDSN, "shop.matrix", 8)
	if n := pgCount(t, pgDSN, "shop.bad"); n != 1 {
		t.Errorf("shop.bad at PostgreSQL holds %d rows, want the 1 before the zero date", n)
	}
	checkMiddle(t, pgDSN)
	d1.Stop()

	// Leg 2: PostgreSQL → MariaDB. The PostgreSQL source needs the table
	// to exist when it starts, so it runs once leg 1 has created it. Rows
	// MariaDB refuses are parked, so that one does not hide the others.
	d2 := newDaemon(t, fmt.Sprintf(`
source "postgres" "back" { dsn = %q }
target "mysql" "round" {
  dsn           = %q
  create_tables = true
}
scope "back" {
  source         = "back"
  targets        = ["round"]
  on_apply_error = "dlq"
  table "shop.matrix" { target = "roundtrip.matrix" }
}`, pgDSN, roundDSN))
	d2.Start()
	parkedRE := regexp.MustCompile(`"rows_parked": (\d+)`)
	testenv.Eventually(t, time.Minute, 500*time.Millisecond, func() error {
		n, err := mysqlCount(roundDSN, "roundtrip.matrix")
		parked := 0
		if m := parkedRE.FindStringSubmatch(get(t, d2.AdminURL+"/scopes")); m != nil {
			fmt.Sscan(m[1], &parked)
		}
		if err != nil || n+parked != 8 {
			return fmt.Errorf("roundtrip.matrix holds %d rows (%v) and %d are parked, want 8 in all", n, err, parked)
		}
		return nil
	})
	for _, reason := range parkedReasons(t, d2) {
		t.Errorf("the round trip refused a row: %s", reason)
	}

	checkBackTypes(t, roundDSN)
	want := readMatrix(t, srcDSN, "shop.matrix")
	got := readMatrix(t, roundDSN, "roundtrip.matrix")
	for _, id := range []int{1, 2, 3, 4, 101, 102, 103, 104} {
		w, g := want[id], got[id]
		if w == nil || g == nil {
			t.Errorf("row %d is missing at the source (%v) or from the round trip (%v)", id, w == nil, g == nil)
			continue
		}
		for i, c := range matrixCols {
			exp := w[i]
			if r := (id - 1) % 100; c.back != nil && r < 3 {
				exp = sql.NullString{String: c.back[r], Valid: true}
			}
			if g[i] != exp {
				t.Errorf("row %d column %s (%s): source %s, round trip %s, want %s", id, c.name, c.def, show(w[i]), show(g[i]), show(exp))
			}
		}
	}
}

// matrixInserts returns the statements inserting rows base+1 to base+4
// of shop.matrix: edge values in rows 1-3, NULLs in row 4.
func matrixInserts(base int) []string {
	stmts := []string{"SET SESSION time_zone = '+00:00'"}
	for r := range 3 {
		lits := []string{fmt.Sprint(base + r + 1)}
		for _, c := range matrixCols {
			lits = append(lits, c.lits[r])
		}
		stmts = append(stmts, "INSERT INTO matrix VALUES ("+strings.Join(lits, ", ")+")")
	}
	nulls := strings.TrimSuffix(strings.Repeat("NULL, ", len(matrixCols)), ", ")
	return append(stmts, fmt.Sprintf("INSERT INTO matrix VALUES (%d, %s)", base+4, nulls))
}

// readMatrix reads every column of a matrix table at MySQL as
// comparable text, by id.
func readMatrix(t *testing.T, dsn, table string) map[int][]sql.NullString {
	t.Helper()
	exprs := []string{"id"}
	for _, c := range matrixCols {
		read := c.read
		if read == "" {
			read = "CAST(%[1]s AS CHAR)"
		}
		exprs = append(exprs, fmt.Sprintf(read, "`"+c.name+"`"))
	}
	db := testenv.OpenDB(t, "mysql", dsn)
	rows, err := db.Query("SELECT " + strings.Join(exprs, ", ") + " FROM " + table)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	out := map[int][]sql.NullString{}
	for rows.Next() {
		var id int
		vals := make([]sql.NullString, len(matrixCols))
		ptrs := []any{&id}
		for i := range vals {
			ptrs = append(ptrs, &vals[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		out[id] = vals
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return out
}

// checkMiddle checks the PostgreSQL types create_tables chose and values
// at PostgreSQL where exactness matters.
func checkMiddle(t *testing.T, dsn string) {
	t.Helper()
	db := testenv.OpenDB(t, "pgx", dsn)
	for _, c := range matrixCols {
		var typ string
		err := db.QueryRow(`SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'shop.matrix'::regclass AND attname = $1`, c.name).Scan(&typ)
		if err != nil || typ != c.pgType {
			t.Errorf("PostgreSQL column %s (%s) has type %q (%v), want %s", c.name, c.def, typ, err, c.pgType)
		}
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	for _, m := range matrixMiddle {
		for _, id := range []int{m.id, m.id + 100} {
			var got sql.NullString
			if err := conn.QueryRowContext(context.Background(), fmt.Sprintf(`SELECT concat(%q) FROM shop.matrix WHERE id = $1`, m.col), id).Scan(&got); err != nil {
				t.Fatalf("read PostgreSQL row %d column %s: %v", id, m.col, err)
			}
			if got.String != m.want {
				t.Errorf("PostgreSQL row %d column %s = %s, want %q", id, m.col, show(got), m.want)
			}
		}
	}
}

var displayWidth = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|bigint)\(\d+\)`)

// checkBackTypes checks the MariaDB types create_tables chose for the
// PostgreSQL types.
func checkBackTypes(t *testing.T, dsn string) {
	t.Helper()
	db := testenv.OpenDB(t, "mysql", dsn)
	for _, c := range matrixCols {
		var typ string
		err := db.QueryRow(`SELECT LOWER(COLUMN_TYPE) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'roundtrip' AND TABLE_NAME = 'matrix' AND COLUMN_NAME = ?`, c.name).Scan(&typ)
		if typ = displayWidth.ReplaceAllString(typ, "$1"); err != nil || typ != c.backType {
			t.Errorf("round-trip column %s (%s, %s at PostgreSQL) has type %q (%v), want %s", c.name, c.def, c.pgType, typ, err, c.backType)
		}
	}
}

// parkedReasons returns the reasons of the rows on a daemon's DLQ.
func parkedReasons(t *testing.T, d *testenv.Syncd) []string {
	t.Helper()
	js, err := jetstream.New(connect(t, d))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "SYNCD_DLQ")
	if err != nil {
		return nil // nothing was ever parked
	}
	var out []string
	for seq := uint64(1); seq <= s.CachedInfo().State.LastSeq; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("read parked row %d: %v", seq, err)
		}
		var parked struct{ Reason string }
		if err := json.Unmarshal(msg.Data, &parked); err != nil {
			t.Fatal(err)
		}
		out = append(out, parked.Reason)
	}
	return out
}

func pgCount(t *testing.T, dsn, table string) int {
	t.Helper()
	var n int
	if err := testenv.OpenDB(t, "pgx", dsn).QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func waitPGCount(t *testing.T, dsn, table string, want int) {
	t.Helper()
	db := testenv.OpenDB(t, "pgx", dsn)
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil || n != want {
			return fmt.Errorf("%s at PostgreSQL holds %d rows (%v), want %d", table, n, err, want)
		}
		return nil
	})
}

func mysqlCount(dsn, table string) (int, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
	return n, err
}

func show(v sql.NullString) string {
	if !v.Valid {
		return "NULL"
	}
	return fmt.Sprintf("%q", v.String)
}
