package sqlserver

import (
	"reflect"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

func TestCheckProblems(t *testing.T) {
	orders := capture.TableSpec{ID: capture.TableID{Schema: "dbo", Name: "orders"}, Scopes: []string{"eu"}, Columns: []string{"region"}}
	good := databaseFacts{Name: "shop", User: "syncd", Tracking: true, SnapshotIsolation: 1}
	cols := []columnFacts{{Name: "id", ID: 1, Type: "int", KeyOrdinal: 1}, {Name: "region", ID: 2, Type: "nvarchar"}}
	ok := tableFacts{Spec: orders, Exists: true, Tracked: true, CanSelect: true, CanViewCT: true, Columns: cols}
	tests := []struct {
		name string
		db   databaseFacts
		tf   tableFacts
		want []string // one line per problem, each a part of its message
	}{
		{name: "all set", db: good, tf: ok},
		{name: "database", db: databaseFacts{Name: "shop", User: "syncd"}, tf: ok, want: []string{
			"ALTER DATABASE [shop] SET CHANGE_TRACKING = ON",
			"ALTER DATABASE [shop] SET ALLOW_SNAPSHOT_ISOLATION ON",
		}},
		{name: "missing table", db: good, tf: tableFacts{Spec: orders}, want: []string{"table dbo.orders (scopes eu) does not exist in database shop, or user syncd may not see it"}},
		{name: "table", db: good, tf: tableFacts{Spec: orders, Exists: true, Columns: []columnFacts{{Name: "id", ID: 1}}}, want: []string{
			"ALTER TABLE [dbo].[orders] ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)",
			"GRANT SELECT ON [dbo].[orders] TO [syncd]",
			"GRANT VIEW CHANGE TRACKING ON [dbo].[orders] TO [syncd]",
			"table dbo.orders has no primary key",
			"table dbo.orders has no column region, which scopes eu use",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkProblems(tt.db, []tableFacts{tt.tf})
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("problem %d %q lacks %q", i, lines[i], w)
				}
			}
		})
	}
}

func TestTableOf(t *testing.T) {
	f := tableFacts{Spec: capture.TableSpec{ID: capture.TableID{Schema: "s", Name: "t"}}, Columns: []columnFacts{
		{Name: "a", ID: 1, Type: "int", KeyOrdinal: 2}, {Name: "b", ID: 3, Type: "bigint", KeyOrdinal: 1}, {Name: "c", ID: 4, Type: "nvarchar"},
	}}
	tb := tableOf(f)
	if !reflect.DeepEqual(tb.Key, []int{1, 0}) || !reflect.DeepEqual(tb.ColumnIDs, []int{1, 3, 4}) || tb.Columns[1].Type != "bigint" {
		t.Fatalf("tableOf = %+v %+v", tb.Table, tb.ColumnIDs)
	}
}

// TestTypeName: the published type names carry lengths (nchar and
// nvarchar in characters), precision and scale, as T-SQL writes them.
func TestTypeName(t *testing.T) {
	for _, tt := range []struct {
		c    columnFacts
		want string
	}{
		{columnFacts{Type: "int", MaxLength: 4, Precision: 10}, "int"},
		{columnFacts{Type: "nvarchar", MaxLength: 100}, "nvarchar(50)"},
		{columnFacts{Type: "nvarchar", MaxLength: -1}, "nvarchar(max)"},
		{columnFacts{Type: "varbinary", MaxLength: -1}, "varbinary(max)"},
		{columnFacts{Type: "char", MaxLength: 3}, "char(3)"},
		{columnFacts{Type: "decimal", MaxLength: 9, Precision: 10, Scale: 2}, "decimal(10,2)"},
		{columnFacts{Type: "datetime2", MaxLength: 8, Precision: 27, Scale: 7}, "datetime2(7)"},
		{columnFacts{Type: "time", MaxLength: 3, Precision: 8, Scale: 0}, "time(0)"},
		{columnFacts{Type: "datetime", MaxLength: 8, Precision: 23, Scale: 3}, "datetime"},
	} {
		if got := tt.c.typeName(); got != tt.want {
			t.Errorf("typeName(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}
