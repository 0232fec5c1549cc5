package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

// roundTripColumns are the columns of the source table of
// TestValueRoundTrip: name, type, then per row the SQL literal at the
// source and the wire JSON syncd publishes for it (docs/wire-format.md),
// written by hand.
var roundTripColumns = []struct {
	name, typ string
	rows      [3][2]string // [row]{SQL literal, wire JSON}
}{
	{"i2", "smallint", [3][2]string{{`32767`, `32767`}, {`-32768`, `-32768`}, {`NULL`, `null`}}},
	{"i4", "integer", [3][2]string{{`2147483647`, `2147483647`}, {`-2147483648`, `-2147483648`}, {`NULL`, `null`}}},
	{"i8", "bigint", [3][2]string{{`9223372036854775807`, `"9223372036854775807"`}, {`-9223372036854775808`, `"-9223372036854775808"`}, {`NULL`, `null`}}},
	{"num", "numeric(30,10)", [3][2]string{{`12345678901234567890.0123456789`, `"12345678901234567890.0123456789"`}, {`'NaN'`, `"NaN"`}, {`NULL`, `null`}}},
	{"numfree", "numeric", [3][2]string{{`0.000000000000000000000000000001`, `"0.000000000000000000000000000001"`}, {`-1.50`, `"-1.50"`}, {`NULL`, `null`}}},
	{"f8", "double precision", [3][2]string{{`'NaN'`, `"NaN"`}, {`'Infinity'`, `"Infinity"`}, {`'-Infinity'`, `"-Infinity"`}}},
	{"f8b", "double precision", [3][2]string{{`1.7976931348623157e308`, `1.7976931348623157e+308`}, {`5e-324`, `5e-324`}, {`'-0'`, `-0`}}},
	{"f4", "real", [3][2]string{{`3.4028235e38`, `3.4028235e+38`}, {`'NaN'`, `"NaN"`}, {`0.1`, `0.1`}}},
	{"txt", "text", [3][2]string{{`E'quote " backslash \\ tab \t newline \n unicode é 😀 {braces},commas'`, `"quote \" backslash \\ tab \t newline \n unicode é \ud83d\ude00 {braces},commas"`}, {`''`, `""`}, {`'NULL'`, `"NULL"`}}},
	{"vc", "character varying(10)", [3][2]string{{`'ab'`, `"ab"`}, {`'0123456789'`, `"0123456789"`}, {`NULL`, `null`}}},
	{"ch", "character(5)", [3][2]string{{`'ab'`, `"ab   "`}, {`'abcde'`, `"abcde"`}, {`NULL`, `null`}}},
	{"by", "bytea", [3][2]string{{`'\x00ff10'`, `"AP8Q"`}, {`''`, `""`}, {`NULL`, `null`}}},
	{"b", "boolean", [3][2]string{{`true`, `true`}, {`false`, `false`}, {`NULL`, `null`}}},
	{"tstz", "timestamp with time zone", [3][2]string{{`'2026-03-01 10:00:00.123456+00'`, `"2026-03-01T10:00:00.123456Z"`}, {`'1999-12-31 23:59:59-08'`, `"2000-01-01T07:59:59Z"`}, {`NULL`, `null`}}},
	{"ts", "timestamp without time zone", [3][2]string{{`'2026-03-01 10:00:00.123456'`, `"2026-03-01T10:00:00.123456"`}, {`'0001-01-01 00:00:00'`, `"0001-01-01T00:00:00"`}, {`NULL`, `null`}}},
	{"d", "date", [3][2]string{{`'2026-03-01'`, `"2026-03-01"`}, {`'4713-01-01 BC'`, `"4713-01-01 BC"`}, {`NULL`, `null`}}},
	{"tm", "time without time zone", [3][2]string{{`'23:59:59.999999'`, `"23:59:59.999999"`}, {`'00:00:00'`, `"00:00:00"`}, {`NULL`, `null`}}},
	{"ttz", "time with time zone", [3][2]string{{`'10:00:00+02'`, `"10:00:00+02"`}, {`'00:00:00-05:30'`, `"00:00:00-05:30"`}, {`NULL`, `null`}}},
	{"iv", "interval", [3][2]string{{`'1 year 2 mons 3 days 04:05:06.789'`, `"1 year 2 mons 3 days 04:05:06.789"`}, {`'P1DT2H'`, `"P1DT2H"`}, {`'-1 days'`, `"-1 days"`}}},
	{"u", "uuid", [3][2]string{{`'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`, `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`}, {`NULL`, `null`}, {`NULL`, `null`}}},
	{"j", "json", [3][2]string{{`'{"b": [1, 2],  "a": "x\"y"}'`, `{"b": [1, 2],  "a": "x\"y"}`}, {`'"just a string"'`, `"just a string"`}, {`'[1, null]'`, `[1, null]`}}},
	{"jb", "jsonb", [3][2]string{{`'{"k": null, "n": 1.50, "s": "é\\\"x"}'`, `{"k": null, "n": 1.50, "s": "é\\\"x"}`}, {`'3'`, `3`}, {`NULL`, `null`}}},
	{"ia", "integer[]", [3][2]string{{`'{1,NULL,3}'`, `[1,null,3]`}, {`'{}'`, `[]`}, {`NULL`, `null`}}},
	{"ta", "text[]", [3][2]string{{`ARRAY['a,b', 'q"uote', 'back\slash', NULL, 'NULL', '', ' sp ', '{x}']`, `["a,b","q\"uote","back\\slash",null,"NULL",""," sp ","{x}"]`}, {`'{}'`, `[]`}, {`NULL`, `null`}}},
	{"ia2", "integer[]", [3][2]string{{`'{{1,2},{3,4}}'`, `[[1,2],[3,4]]`}, {`'{{NULL}}'`, `[[null]]`}, {`NULL`, `null`}}},
	{"na", "numeric[]", [3][2]string{{`'{1.10,NaN,-3}'`, `["1.10","NaN","-3"]`}, {`NULL`, `null`}, {`NULL`, `null`}}},
	{"ba", "bytea[]", [3][2]string{{`ARRAY['\x00ff10'::bytea, NULL]`, `["AP8Q",null]`}, {`NULL`, `null`}, {`NULL`, `null`}}},
	{"jba", "jsonb[]", [3][2]string{{`ARRAY['{"a": 1}'::jsonb, '[1, 2]', '"s"']`, `[{"a": 1},[1, 2],"s"]`}, {`NULL`, `null`}, {`NULL`, `null`}}},
	{"tsa", "timestamp with time zone[]", [3][2]string{{`'{"2026-03-01 10:00:00+00"}'`, `["2026-03-01T10:00:00Z"]`}, {`NULL`, `null`}, {`NULL`, `null`}}},
	{"inet", "inet", [3][2]string{{`'192.168.0.1/24'`, `"192.168.0.1/24"`}, {`'::1'`, `"::1"`}, {`NULL`, `null`}}},
	{"pt", "point", [3][2]string{{`'(1.5,-2)'`, `"(1.5,-2)"`}, {`NULL`, `null`}, {`NULL`, `null`}}},
	{"bx", "box[]", [3][2]string{{`'{(1,2),(0,0);(3,4),(1,1)}'`, `["(1,2),(0,0)","(3,4),(1,1)"]`}, {`NULL`, `null`}, {`NULL`, `null`}}},
	{"rng", "numrange", [3][2]string{{`'[1.5,3)'`, `"[1.5,3)"`}, {`'empty'`, `"empty"`}, {`NULL`, `null`}}},
	{"bits", "bit varying(8)", [3][2]string{{`B'101'`, `"101"`}, {`NULL`, `null`}, {`NULL`, `null`}}},
	// Types the target does not know become text there.
	{"md", "mood", [3][2]string{{`'happy'`, `"happy"`}, {`NULL`, `null`}, {`NULL`, `null`}}},
	{"mda", "mood[]", [3][2]string{{`'{happy,"so sad"}'`, `["happy","so sad"]`}, {`'{}'`, `[]`}, {`NULL`, `null`}}},
}

// TestValueRoundTrip fills a source table with edge values of the common
// types, applies their wire form to a table Prepare created from the
// source's column types, and compares the text of every value.
func TestValueRoundTrip(t *testing.T) {
	for _, isolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("isolate=%v", isolate), func(t *testing.T) {
			t.Parallel()
			testValueRoundTrip(t, isolate)
		})
	}
}

func testValueRoundTrip(t *testing.T, isolate bool) {
	e := newEnv(t)
	src := newEnv(t) // a database on the same server, used only for SQL
	src.exec(`CREATE TYPE mood AS ENUM ('happy', 'so sad')`)
	src.exec(`CREATE SCHEMA src`)
	ddl := []string{"id integer PRIMARY KEY"}
	for _, c := range roundTripColumns {
		ddl = append(ddl, pgx.Identifier{c.name}.Sanitize()+" "+c.typ)
	}
	src.exec(`CREATE TABLE src.vals (` + strings.Join(ddl, ", ") + `)`)
	for r := range 3 {
		lits := []string{fmt.Sprint(r + 1)}
		for _, c := range roundTripColumns {
			lits = append(lits, c.rows[r][0])
		}
		src.exec(`INSERT INTO src.vals VALUES (` + strings.Join(lits, ", ") + `)`)
	}

	// The published schema, with the types as the source's catalog
	// writes them; the target table goes to another schema.
	ts := &router.TableSchema{Scope: "s", SourceKind: "postgres",
		Source: capture.TableID{Schema: "src", Name: "vals"}, Target: capture.TableID{Schema: "copy", Name: "vals"}, Key: []string{"id"}}
	rows, err := src.conn.Query(context.Background(), `SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'src.vals'::regclass AND attnum > 0 ORDER BY attnum`)
	if err != nil {
		t.Fatal(err)
	}
	var name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		ts.Columns = append(ts.Columns, router.ColumnSchema{Name: name, Type: typ})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.prepare(ts)

	var changes []*apply.Change
	for r := range 3 {
		after := []string{fmt.Sprintf(`"id":%d`, r+1)}
		for _, c := range roundTripColumns {
			after = append(after, fmt.Sprintf(`%q:%s`, c.name, c.rows[r][1]))
		}
		changes = append(changes, applytest.Change(ts, capture.OpInsert, fmt.Sprintf(`{"id":%d}`, r+1), "", "{"+strings.Join(after, ",")+"}"))
	}
	if err := e.run(isolate, applytest.Record(1), changes...); err != nil {
		t.Fatal(err)
	}

	for _, c := range roundTripColumns {
		q := fmt.Sprintf(`SELECT id, %s::text FROM %%s ORDER BY id`, pgx.Identifier{c.name}.Sanitize())
		want := src.rows(fmt.Sprintf(q, "src.vals"))
		got := e.rows(fmt.Sprintf(q, "copy.vals"))
		if !slices.Equal(got, want) {
			t.Errorf("column %s (%s):\n got %q\nwant %q", c.name, c.typ, got, want)
		}
	}
	types := e.rows(`SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'copy.vals'::regclass AND attname IN ('num', 'md', 'mda', 'ta') ORDER BY attname`)
	want := []string{"md|text", "mda|text", "num|numeric(30,10)", "ta|text[]"}
	if !slices.Equal(types, want) {
		t.Errorf("created column types %q, want %q", types, want)
	}
}
