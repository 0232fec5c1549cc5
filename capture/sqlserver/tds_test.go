package sqlserver

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	mssql "github.com/microsoft/go-mssqldb"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/scopes/mapping"
	"github.com/syncd-dev/syncd/test/tdsfake"
)

// Layer 3: Conn, the go-mssqldb Tracker, against the TDS wire fake
// (test/tdsfake): the exact statements it sends, in order, and what
// the driver makes of typed columns, NULLs, server errors and a cancel.

var itemsSpec = capture.TableSpec{ID: capture.TableID{Schema: "dbo", Name: "items"}, Scopes: []string{"s"}, Columns: []string{"qty"}}

// itemsTable is dbo.items as the fake's catalog describes it.
func itemsTable() *Table {
	return &Table{Table: &capture.Table{Schema: "dbo", Name: "items", Key: []int{0}, Columns: []capture.Column{
		{Name: "id", Type: "int"}, {Name: "name", Type: "nvarchar(50)"}, {Name: "qty", Type: "bigint"},
		{Name: "ok", Type: "bit"}, {Name: "data", Type: "varbinary(16)"},
	}}, ColumnIDs: []int{1, 2, 3, 4, 6}}
}

func startupScript(tableFacts tdsfake.Result) map[string]tdsfake.Result {
	text := tdsfake.NVarchar
	i4 := tdsfake.Int4
	return map[string]tdsfake.Result{
		databaseFactsSQL: {Cols: []tdsfake.Type{text, text, i4, i4, text, i4}, Rows: [][]any{{"erp", "syncd", int64(1), int64(2), "DAYS", int64(1)}}},
		tableFactsSQL:    tableFacts,
		columnsSQL: {Cols: []tdsfake.Type{text, i4, text, i4, i4, i4, i4}, Rows: [][]any{
			{"id", int64(1), "int", int64(4), int64(10), int64(0), int64(1)},
			{"name", int64(2), "nvarchar", int64(100), int64(0), int64(0), int64(0)},
			{"qty", int64(3), "bigint", int64(8), int64(19), int64(0), int64(0)},
			{"ok", int64(4), "bit", int64(1), int64(1), int64(0), int64(0)},
			{"data", int64(6), "varbinary", int64(16), int64(0), int64(0), int64(0)},
		}},
	}
}

var allFacts = tdsfake.Result{Cols: []tdsfake.Type{tdsfake.Int4, tdsfake.Int4, tdsfake.Int4, tdsfake.Int4}, Rows: [][]any{{int64(1), int64(1), int64(1), int64(1)}}}

// TestConnOverTDS: the start-up checks and one poll through go-mssqldb:
// the statements in order, the catalog read into the table, the change
// rows decoded with their types, NULLs and column masks.
func TestConnOverTDS(t *testing.T) {
	tb := itemsTable()
	script := startupScript(allFacts)
	i4, i8, text, bin := tdsfake.Int4, tdsfake.Int8, tdsfake.NVarchar, tdsfake.Varbinary
	script[currentVersionSQL] = tdsfake.Result{Cols: []tdsfake.Type{i8}, Rows: [][]any{{int64(7)}}}
	script[minValidVersionSQL] = tdsfake.Result{Cols: []tdsfake.Type{i8}, Rows: [][]any{{int64(0)}}}
	all, none := int64(1), int64(0)
	script[changesSQL(tb)] = tdsfake.Result{
		Cols: []tdsfake.Type{i8, text, bin, i4, i4, i4, i4, i4, i4, i4, i4, i4, text, i8, tdsfake.Bit, bin},
		Rows: [][]any{
			{int64(5), "I", nil, all, all, all, all, all, all, int64(1), int64(1), int64(1), "a", int64(10), true, []byte{1}},
			{int64(6), "U", nil, none, none, none, all, none, none, int64(2), int64(1), int64(2), nil, int64(20), false, nil},
			{int64(7), "D", []byte("syncd"), all, all, all, all, all, all, int64(3), int64(0), nil, nil, nil, nil, nil},
		},
	}
	f := tdsfake.New(t, script)
	ctx := context.Background()
	conn, err := Connect(f.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tables, err := conn.Tables(ctx, []capture.TableSpec{itemsSpec})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tables[0], tb) {
		t.Errorf("Tables = %+v %+v, want %+v %+v", tables[0].Table, tables[0].ColumnIDs, tb.Table, tb.ColumnIDs)
	}
	if r, err := conn.Retention(ctx); err != nil || r != 48*time.Hour {
		t.Errorf("Retention = %s, %v; want 48h", r, err)
	}
	p, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := p.CurrentVersion(ctx); v != 7 || !ok || err != nil {
		t.Errorf("CurrentVersion = %d, %v, %v", v, ok, err)
	}
	if v, ok, err := p.MinValidVersion(ctx, tb); v != 0 || !ok || err != nil {
		t.Errorf("MinValidVersion = %d, %v, %v; want 0 (a valid version, not none)", v, ok, err)
	}
	var got []ChangeRow
	if err := p.Changes(ctx, tb, 4, 7, func(r ChangeRow) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	want := []ChangeRow{
		{Version: 5, Op: 'I', Key: capture.Row{int32(1)}, Row: capture.Row{int32(1), "a", int64(10), true, []byte{1}}},
		{Version: 6, Op: 'U', Key: capture.Row{int32(2)}, Row: capture.Row{int32(2), nil, int64(20), false, nil}, Changed: []bool{false, false, true, false, false}},
		{Version: 7, Op: 'D', Context: []byte("syncd"), Key: capture.Row{int32(3)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Changes =\n%#v\nwant\n%#v", got, want)
	}
	wantSeen := []string{databaseFactsSQL, tableFactsSQL, columnsSQL, databaseFactsSQL,
		"BEGIN TRAN ISOLATION 5", currentVersionSQL, minValidVersionSQL, changesSQL(tb), "ROLLBACK"}
	if seen := f.Statements(); !slices.Equal(seen, wantSeen) {
		t.Errorf("statements:\n%s\nwant\n%s", tdsfake.StatementsText(seen), tdsfake.StatementsText(wantSeen))
	}
}

// TestConnOverTDSErrors: a server error reaches the caller as go-mssqldb's
// Error with SQL Server's number; a canceled read sends an attention and
// returns the context's error.
func TestConnOverTDSErrors(t *testing.T) {
	ctx := context.Background()
	f := tdsfake.New(t, startupScript(tdsfake.Result{ErrNo: 229, Msg: "The SELECT permission was denied on the object 'items'."}))
	conn, err := Connect(f.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = conn.Tables(ctx, []capture.TableSpec{itemsSpec})
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != 229 {
		t.Errorf("Tables = %v, want go-mssqldb's error 229", err)
	}

	f = tdsfake.New(t, map[string]tdsfake.Result{currentVersionSQL: {Block: true}})
	conn, err = Connect(f.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		<-f.Held // the fake holds the statement: cancel it
		cancel()
	}()
	if _, _, err := p.CurrentVersion(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("CurrentVersion canceled = %v, want context.Canceled", err)
	}
	p.Close()
	if seen := f.Statements(); !slices.Contains(seen, "ATTENTION") {
		t.Errorf("statements %q: no attention after the cancel", seen)
	}
}

// TestConnOverTDSChecksMappings: Tables type-checks the scopes' mappings
// at start, against the table as the catalog describes it (the types with
// their lengths, the primary key): a mapping that does not fit the
// source's column types fails the start with a terminal error, as on the
// other sources, instead of when the router first sees the table.
func TestConnOverTDSChecksMappings(t *testing.T) {
	ctx := context.Background()
	compile := func(src string) func(*capture.Table) error {
		e, err := mapping.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		spec := &mapping.Spec{Auto: mapping.AutoExact, Columns: []mapping.Column{{Name: "label", Expr: e}}}
		return func(tb *capture.Table) error {
			_, err := mapping.Compile(spec, tb, "sqlserver")
			return err
		}
	}
	for _, tt := range []struct {
		name, expr string
		fails      bool
	}{
		{name: "fits", expr: `upper(name) + "-" + string(qty)`},
		{name: "does not fit", expr: `upper(qty)`, fails: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tdsfake.New(t, startupScript(allFacts))
			conn, err := Connect(f.DSN())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var seen *capture.Table
			spec := itemsSpec
			check := compile(tt.expr)
			spec.Check = func(tb *capture.Table) error { seen = tb; return check(tb) }
			_, err = conn.Tables(ctx, []capture.TableSpec{spec})
			if diff := cmp.Diff(itemsTable().Table, seen); diff != "" {
				t.Errorf("Check saw (-want +got):\n%s", diff)
			}
			switch {
			case !tt.fails && err != nil:
				t.Fatalf("Tables = %v", err)
			case tt.fails && (!retry.IsTerminal(err) || !strings.Contains(err.Error(), "label")):
				t.Fatalf("Tables = %v, want a terminal error naming the mapped column", err)
			}
		})
	}
}
