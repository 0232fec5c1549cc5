package sqlserver

// Layer 1 of issue 19's tests: no I/O. These prove the text of every
// statement the dialect builds (golden files in testdata/), the quoting
// of names holding ], the numbering of parameters and the splitting of
// groups under SQL Server's 2,100 parameters. They do not prove that SQL
// Server accepts the statements or that they do what their comments say:
// only realserver_test.go, against a real server, can.

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/capture"
	capsql "github.com/syncd-dev/syncd/capture/sqlserver"
	"github.com/syncd-dev/syncd/router"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testTable prepares ts as if the target table had exactly its columns,
// the key as primary key, and identity as its identity column.
func testTable(t *testing.T, ts *router.TableSchema, identity string) *table {
	t.Helper()
	ct := &catalogTable{columns: map[string]catalogColumn{}, unique: [][]string{ts.Key}}
	for _, c := range ts.Columns {
		ct.columns[c.Name] = catalogColumn{name: c.Name, dataType: "nvarchar", identity: c.Name == identity}
	}
	name, err := targetName(ts.Target)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := newTable(ts, name, ct)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// golden compares got with testdata/name, or writes it there with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	applytest.Golden(t, *update, name, got)
}

// TestStatementsGolden: the statements of each kind, for one row and for
// three, on a table with a key of one column, one of two columns whose
// names hold ] and other awkward characters, a table without a key and a
// table whose key is an identity column.
func TestStatementsGolden(t *testing.T) {
	items, pairs, logs := applytest.Tables("")
	odd := applytest.Schema("we]ird.ta]]ble", []string{"k]1", "k 2"}, "k]1 integer", "k_2 text", "v'al text", "[x] text")
	odd.Columns[1].Name = "k 2" // Schema splits names at spaces
	seq := applytest.Schema("app.seq", []string{"id"}, "id integer", "v text")
	for _, tt := range []struct {
		file     string
		ts       *router.TableSchema
		identity string
		cols     []int  // the columns written, keys included; nil: all
		origin   string // the target's Config.Origin
	}{
		{"items.sql", items, "", nil, ""},
		{"items_key_only.sql", items, "", []int{0}, ""},
		{"pairs.sql", pairs, "", nil, ""},
		{"odd_names.sql", odd, "", nil, ""},
		{"logs.sql", logs, "", nil, ""},
		{"identity.sql", seq, "id", nil, ""},
		{"tagged.sql", items, "", nil, testOrigin},
		{"tagged_identity.sql", seq, "id", nil, testOrigin},
		{"tagged_logs.sql", logs, "", nil, testOrigin},
	} {
		t.Run(tt.file, func(t *testing.T) {
			tb := testTable(t, tt.ts, tt.identity)
			var err error
			if tb.tag, err = capsql.ContextClause(tt.origin); err != nil {
				t.Fatal(err)
			}
			cols := tt.cols
			if cols == nil {
				for i := range tb.Names {
					cols = append(cols, i)
				}
			}
			var ops []plan.Op
			if len(tb.Key) > 0 {
				ops = []plan.Op{plan.Upsert, plan.Delete, plan.Update, plan.MoveKey, plan.Truncate}
			} else {
				ops = []plan.Op{plan.Insert, plan.DeleteRow, plan.Truncate}
			}
			var b strings.Builder
			for _, o := range ops {
				c := cols
				if o == plan.Delete {
					c = tb.Key
				}
				for _, n := range []int{1, 3} {
					if n > 1 && (o == plan.DeleteRow || o == plan.Update || o == plan.MoveKey || o == plan.Truncate) {
						continue // one row a statement
					}
					fmt.Fprintf(&b, "-- %s\n%s;\n\n", plan.Describe(o, n, tb.name.String()), tb.statement(o, c, n))
				}
			}
			golden(t, tt.file, b.String())
		})
	}
}

// TestScopeInfoGolden: the scope_info table's DDL, the checkpoint's read
// and its upsert, in a schema whose name holds ].
func TestScopeInfoGolden(t *testing.T) {
	name, err := parseName("sy]ncd.scope_info")
	if err != nil {
		t.Fatal(err)
	}
	s := newScopeInfoSQL(name)
	golden(t, "scope_info.sql", s.create+";\n\n"+strings.Join(s.migrate, ";\n")+";\n\n"+s.readCheckpoint.Query+";\n\n"+s.writeCheckpoint+";\n")
	if got := len(scopeInfoArgs(plan.ScopeInfo{})); got != len(scopeInfoColumns) {
		t.Errorf("%d checkpoint arguments for %d columns", got, len(scopeInfoColumns))
	}
	if n := strings.Count(s.writeCheckpoint, fmt.Sprintf("@p%d", len(scopeInfoColumns))); n != 2 {
		t.Errorf("the last parameter appears %d times in the write, want 2 (update and insert)", n)
	}
}

func TestQuote(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"a", "[a]"},
		{"a]b", "[a]]b]"},
		{"]]", "[]]]]]"},
		{"[x", "[[x]"},
		{"it's", "[it's]"},
		{"a.b", "[a.b]"},
	} {
		if got := quote(tt.name); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
	for _, tt := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "t", want: "[t]"},
		{in: "s.t", want: "[s].[t]"},
		{in: "s]x.t]y", want: "[s]]x].[t]]y]"},
		{in: "", wantErr: true},
		{in: "s.", wantErr: true},
		{in: strings.Repeat("x", 129), wantErr: true},
		{in: "a\x00b", wantErr: true},
	} {
		n, err := parseName(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseName(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && n.quoted() != tt.want {
			t.Errorf("parseName(%q).quoted() = %s, want %s", tt.in, n.quoted(), tt.want)
		}
	}
}

// TestParameterNumbering: a statement of n rows of c columns numbers its
// parameters @p1 to @pn*c, each once in each VALUES list, in the order of
// the arguments.
func TestParameterNumbering(t *testing.T) {
	if got, want := values(2, 3), "(@p1, @p2, @p3), (@p4, @p5, @p6)"; got != want {
		t.Errorf("values(2, 3) = %s, want %s", got, want)
	}
	items, _, _ := applytest.Tables("")
	tb := testTable(t, items, "")
	// An update numbers the key by its place among the columns written.
	if got, want := tb.statement(plan.Update, []int{1, 0, 3}, 1), "UPDATE [items] SET [name] = @p1, [qty] = @p3 WHERE [id] = @p2"; got != want {
		t.Errorf("update = %s, want %s", got, want)
	}
	s := tb.statement(plan.Upsert, []int{0, 1, 2, 3}, 500)
	for p := 1; p <= 2000; p++ {
		if n := strings.Count(s, fmt.Sprintf("@p%d,", p)) + strings.Count(s, fmt.Sprintf("@p%d)", p)); n != 2 {
			t.Fatalf("@p%d appears %d times in a 500-row upsert, want 2", p, n)
		}
	}
	if strings.Contains(s, "@p2001") {
		t.Errorf("a 500-row upsert of 4 columns has a parameter @p2001")
	}
}

// TestGroupSplitsAtParameterLimit: rows of a wide table go in statements
// of at most maxParams parameters, in order, none lost.
func TestGroupSplitsAtParameterLimit(t *testing.T) {
	// SQL Server tables hold at most 1,024 columns.
	for _, ncols := range []int{1, 2, 3, 7, 100, 1024} {
		t.Run(fmt.Sprint(ncols), func(t *testing.T) {
			cols := []string{"id integer"}
			for i := 1; i < ncols; i++ {
				cols = append(cols, fmt.Sprintf("c%d integer", i))
			}
			ts := applytest.Schema("wide", []string{"id"}, cols...)
			tb := testTable(t, ts, "")
			x := newTx(&Target{tables: map[capture.TableID]*table{ts.Target: tb}, groupRows: maxGroupRows}, nil, false)
			idx := make([]int, ncols)
			for i := range idx {
				idx[i] = i
			}
			rows := 3*maxParams/ncols + 2 // several statements' worth
			for r := range rows {
				x.Row.Reset()
				for range ncols {
					x.Row.Put(int64(r))
				}
				x.AddRow(tb, plan.Upsert, idx, nil, &x.Row)
			}
			x.Flush()
			next := int64(0)
			for i, q := range x.Queued() {
				if len(q.Args) > maxParams {
					t.Errorf("statement %d has %d parameters, more than %d", i, len(q.Args), maxParams)
				}
				if q.Rows > maxGroupRows {
					t.Errorf("statement %d has %d rows, more than %d", i, q.Rows, maxGroupRows)
				}
				if len(q.Args) != q.Rows*ncols {
					t.Fatalf("statement %d: %d arguments for %d rows", i, len(q.Args), q.Rows)
				}
				if want := fmt.Sprintf("@p%d)", len(q.Args)); !strings.Contains(q.SQL, want) {
					t.Errorf("statement %d lacks its last parameter %s", i, want)
				}
				for r := range q.Rows {
					if got := q.Args[r*ncols]; got != next {
						t.Fatalf("statement %d row %d is row %v, want %d", i, r, got, next)
					}
					next++
				}
			}
			if next != int64(rows) {
				t.Errorf("%d rows written, want %d", next, rows)
			}
		})
	}
}

// TestGroupSplitsAtRepeatedKey: an upsert group never holds one key
// twice; the later row goes in the next statement, after the earlier.
func TestGroupSplitsAtRepeatedKey(t *testing.T) {
	items, _, _ := applytest.Tables("")
	tb := testTable(t, items, "")
	x := newTx(&Target{groupRows: maxGroupRows}, nil, false)
	for _, id := range []int64{1, 2, 1, 3, 3} {
		x.Row.Reset()
		x.Row.Put(id)
		x.Row.Put("n")
		x.AddRow(tb, plan.Upsert, []int{0, 1}, nil, &x.Row)
	}
	x.Flush()
	var got []string
	for _, q := range x.Queued() {
		got = append(got, fmt.Sprint(q.Args))
	}
	if want := []string{"[1 n 2 n]", "[1 n 3 n]", "[3 n]"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statements' arguments %q, want %q", got, want)
	}
	// Deletes may repeat a key: deleting twice is deleting once.
	x.Discard()
	for _, id := range []int64{1, 1} {
		x.Row.Reset()
		x.Row.Put(id)
		x.AddRow(tb, plan.Delete, []int{0}, nil, &x.Row)
	}
	x.Flush()
	if q := x.Queued(); len(q) != 1 || q[0].Rows != 2 {
		t.Errorf("two deletes of one key: %d statements, want 1 of 2 rows", len(x.Queued()))
	}
}
