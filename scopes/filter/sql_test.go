package filter_test

import (
	"reflect"
	"testing"

	"github.com/syncd-dev/syncd/scopes/filter"
)

func TestSQL(t *testing.T) {
	type rendering struct {
		sql  string
		args []any
	}
	tests := []struct {
		name      string
		src       string
		prior     []any // args already in the query
		postgres  rendering
		mysql     rendering
		sqlserver rendering
	}{
		{
			name:      "design example",
			src:       "price > 0 AND discontinued_at IS NULL",
			postgres:  rendering{`"price" > $1 AND "discontinued_at" IS NULL`, []any{int64(0)}},
			mysql:     rendering{"`price` > ? AND `discontinued_at` IS NULL", []any{int64(0)}},
			sqlserver: rendering{`[price] > @p1 AND [discontinued_at] IS NULL`, []any{int64(0)}},
		},
		{
			name:      "numbering continues after prior args",
			src:       "a = 'x' OR b <> -1.5",
			prior:     []any{"p1", "p2"},
			postgres:  rendering{`"a" = $3 OR "b" <> $4`, []any{"p1", "p2", "x", "-1.5"}},
			mysql:     rendering{"`a` = ? OR `b` <> ?", []any{"p1", "p2", "x", "-1.5"}},
			sqlserver: rendering{`[a] = @p3 OR [b] <> @p4`, []any{"p1", "p2", "x", "-1.5"}},
		},
		{
			name:      "literals are always args",
			src:       "a = TRUE AND b = FALSE AND c = NULL AND 1 < 2",
			postgres:  rendering{`"a" = $1 AND "b" = $2 AND "c" = $3 AND $4 < $5`, []any{true, false, nil, int64(1), int64(2)}},
			mysql:     rendering{"`a` = ? AND `b` = ? AND `c` = ? AND ? < ?", []any{true, false, nil, int64(1), int64(2)}},
			sqlserver: rendering{`[a] = @p1 AND [b] = @p2 AND [c] = @p3 AND @p4 < @p5`, []any{true, false, nil, int64(1), int64(2)}},
		},
		{
			name:      "identifier quoting",
			src:       `"we""ird" = 1 AND "a]b" = 2 AND "c` + "`" + `d" = 3 AND "Mixed" = 4`,
			postgres:  rendering{`"we""ird" = $1 AND "a]b" = $2 AND "c` + "`" + `d" = $3 AND "Mixed" = $4`, []any{int64(1), int64(2), int64(3), int64(4)}},
			mysql:     rendering{"`we\"ird` = ? AND `a]b` = ? AND `c``d` = ? AND `Mixed` = ?", []any{int64(1), int64(2), int64(3), int64(4)}},
			sqlserver: rendering{`[we"ird] = @p1 AND [a]]b] = @p2 AND [c` + "`" + `d] = @p3 AND [Mixed] = @p4`, []any{int64(1), int64(2), int64(3), int64(4)}},
		},
		{
			name:      "in and not in",
			src:       "a IN (1, 'x') AND b NOT IN (c)",
			postgres:  rendering{`"a" IN ($1, $2) AND "b" NOT IN ("c")`, []any{int64(1), "x"}},
			mysql:     rendering{"`a` IN (?, ?) AND `b` NOT IN (`c`)", []any{int64(1), "x"}},
			sqlserver: rendering{`[a] IN (@p1, @p2) AND [b] NOT IN ([c])`, []any{int64(1), "x"}},
		},
		{
			name:      "between",
			src:       "a BETWEEN 1 AND 2.5 OR a NOT BETWEEN 'a' AND 'b'",
			postgres:  rendering{`"a" BETWEEN $1 AND $2 OR "a" NOT BETWEEN $3 AND $4`, []any{int64(1), "2.5", "a", "b"}},
			mysql:     rendering{"`a` BETWEEN ? AND ? OR `a` NOT BETWEEN ? AND ?", []any{int64(1), "2.5", "a", "b"}},
			sqlserver: rendering{`[a] BETWEEN @p1 AND @p2 OR [a] NOT BETWEEN @p3 AND @p4`, []any{int64(1), "2.5", "a", "b"}},
		},
		{
			name:      "like keeps backslash escapes",
			src:       `a LIKE 'x\_[y]%' OR b NOT LIKE '\[z'`,
			postgres:  rendering{`"a" LIKE $1 OR "b" NOT LIKE $2`, []any{`x\_[y]%`, `\[z`}},
			mysql:     rendering{"`a` LIKE ? ESCAPE ? OR `b` NOT LIKE ? ESCAPE ?", []any{`x\_[y]%`, `\`, `\[z`, `\`}},
			sqlserver: rendering{`[a] LIKE @p1 ESCAPE '\' OR [b] NOT LIKE @p2 ESCAPE '\'`, []any{`x\_\[y]%`, `\[z`}},
		},
		{
			name:      "like null",
			src:       `a LIKE NULL`,
			postgres:  rendering{`"a" LIKE $1`, []any{nil}},
			mysql:     rendering{"`a` LIKE ? ESCAPE ?", []any{nil, `\`}},
			sqlserver: rendering{`[a] LIKE @p1 ESCAPE '\'`, []any{nil}},
		},
		{
			name:      "groups and not are parenthesized",
			src:       "a = 1 OR b = 2 AND NOT c = 3 AND NOT (d = 4 OR e = 5)",
			postgres:  rendering{`"a" = $1 OR ("b" = $2 AND NOT ("c" = $3) AND NOT ("d" = $4 OR "e" = $5))`, []any{int64(1), int64(2), int64(3), int64(4), int64(5)}},
			mysql:     rendering{"`a` = ? OR (`b` = ? AND NOT (`c` = ?) AND NOT (`d` = ? OR `e` = ?))", []any{int64(1), int64(2), int64(3), int64(4), int64(5)}},
			sqlserver: rendering{`[a] = @p1 OR ([b] = @p2 AND NOT ([c] = @p3) AND NOT ([d] = @p4 OR [e] = @p5))`, []any{int64(1), int64(2), int64(3), int64(4), int64(5)}},
		},
		{
			name:      "double not",
			src:       "NOT NOT a IS NOT NULL",
			postgres:  rendering{`NOT (NOT ("a" IS NOT NULL))`, nil},
			mysql:     rendering{"NOT (NOT (`a` IS NOT NULL))", nil},
			sqlserver: rendering{`NOT (NOT ([a] IS NOT NULL))`, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.src)
			for d, want := range map[filter.Dialect]rendering{
				filter.Postgres: tt.postgres, filter.MySQL: tt.mysql, filter.SQLServer: tt.sqlserver,
			} {
				prior := append([]any(nil), tt.prior...)
				sql, args := f.SQL(d, prior)
				if sql != want.sql || !reflect.DeepEqual(args, want.args) {
					t.Errorf("SQL(%v) =\n  %s %#v\nwant\n  %s %#v", d, sql, args, want.sql, want.args)
				}
			}
		})
	}
}

func TestSQLPanicsOnUnboundParams(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("SQL did not panic on an unbound param")
		}
	}()
	mustParse(t, "a = :p").SQL(filter.Postgres, nil)
}

func TestDialect(t *testing.T) {
	tests := []struct {
		d           filter.Dialect
		name        string
		quoted      string
		placeholder string
	}{
		{filter.Postgres, "postgres", `"a""b"`, "$7"},
		{filter.MySQL, "mysql", "`a\"b`", "?"},
		{filter.SQLServer, "sqlserver", `[a"b]`, "@p7"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.name {
			t.Errorf("String() = %q, want %q", got, tt.name)
		}
		if got := tt.d.QuoteIdent(`a"b`); got != tt.quoted {
			t.Errorf("%v QuoteIdent = %s, want %s", tt.d, got, tt.quoted)
		}
		if got := tt.d.Placeholder(7); got != tt.placeholder {
			t.Errorf("%v Placeholder(7) = %s, want %s", tt.d, got, tt.placeholder)
		}
	}
}

func TestDiffSQL(t *testing.T) {
	in, out := mustParse(t, "a > 1"), mustParse(t, "b = 'x' OR c IS NULL")
	tests := []struct {
		name    string
		d       filter.Dialect
		in, out *filter.Filter
		want    string
		args    []any
	}{
		{
			// A row where out is NULL (b NULL, c not NULL) was not in out:
			// NOT (NULL) would leave it out of the result.
			name: "entering rows, out's NULL counts as false",
			d:    filter.Postgres, in: in, out: out,
			want: `("a" > $2) AND NOT COALESCE(("b" = $3 OR "c" IS NULL), FALSE)`,
			args: []any{"prior", int64(1), "x"},
		},
		{
			name: "mysql",
			d:    filter.MySQL, in: in, out: out,
			want: "(`a` > ?) AND NOT COALESCE((`b` = ? OR `c` IS NULL), FALSE)",
			args: []any{"prior", int64(1), "x"},
		},
		{
			name: "sql server has no boolean values",
			d:    filter.SQLServer, in: in, out: out,
			want: `([a] > @p2) AND CASE WHEN ([b] = @p3 OR [c] IS NULL) THEN 1 ELSE 0 END = 0`,
			args: []any{"prior", int64(1), "x"},
		},
		{
			name: "every row in: the rows out does not admit",
			d:    filter.Postgres, in: nil, out: out,
			want: `NOT COALESCE(("b" = $2 OR "c" IS NULL), FALSE)`,
			args: []any{"prior", "x"},
		},
		{
			name: "every row out: none",
			d:    filter.Postgres, in: in, out: nil,
			want: `1 = 0`,
			args: []any{"prior"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sql, args := filter.DiffSQL(tt.d, tt.in, tt.out, []any{"prior"})
			if sql != tt.want || !reflect.DeepEqual(args, tt.args) {
				t.Errorf("DiffSQL =\n  %s %#v\nwant\n  %s %#v", sql, args, tt.want, tt.args)
			}
		})
	}
}
