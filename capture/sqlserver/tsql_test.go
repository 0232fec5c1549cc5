package sqlserver

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

var update = flag.Bool("update", false, "rewrite the golden T-SQL files in testdata")

// orderLines has a two-column key in a column order other than the
// table's, a column id gap (a dropped column) and names to quote.
func orderLines() *Table {
	return &Table{
		Table: &capture.Table{Schema: "sales", Name: "order]lines", Columns: []capture.Column{
			{Name: "line", Type: "int"}, {Name: "order_id", Type: "bigint"}, {Name: "sku", Type: "nvarchar"}, {Name: "qty", Type: "int"},
		}, Key: []int{1, 0}},
		ColumnIDs: []int{1, 2, 4, 5},
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs; got:\n%s", name, got)
	}
}

func TestGoldenTSQL(t *testing.T) {
	tb := orderLines()
	golden(t, "changes.sql", changesSQL(tb))
	golden(t, "chunk_first.sql", chunkSQL(tb, false, "", 0))
	golden(t, "chunk_after_where.sql", chunkSQL(tb, true, "[sku] = @p1 OR [qty] > @p2", 2))
	golden(t, "checks.sql", currentVersionSQL+"\n\n"+minValidVersionSQL+"\n\n"+databaseFactsSQL+"\n\n"+tableFactsSQL+"\n\n"+columnsSQL)
}

func TestQuote(t *testing.T) {
	if got := quoteTable(capture.TableID{Schema: "dbo", Name: "a]b"}); got != "[dbo].[a]]b]" {
		t.Errorf("quoteTable = %s", got)
	}
}
