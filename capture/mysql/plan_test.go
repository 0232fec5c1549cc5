package mysql

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestInspector checks the read-only reads of syncd plan on MariaDB:
// counts exact on small tables and estimated on large ones, columns, on a
// session that refuses writes.
func TestInspector(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop",
		`CREATE TABLE small (id int PRIMARY KEY, v int, note text)`,
		`INSERT INTO small SELECT seq, seq % 10, NULL FROM seq_1_to_100`,
		`CREATE TABLE big (id int PRIMARY KEY, v int)`,
		`INSERT INTO big SELECT seq, seq % 10 FROM seq_1_to_200000`,
		`ANALYZE TABLE big`)
	ctx := context.Background()
	in, err := Inspect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	small, big := capture.TableID{Schema: "shop", Name: "small"}, capture.TableID{Schema: "shop", Name: "big"}

	n, err := in.Count(ctx, small, "`v` > ?", []any{6})
	if err != nil || n != (capture.RowCount{Rows: 30, Exact: true}) {
		t.Errorf("Count(small, v > 6) = %+v, %v; want 30 exact", n, err)
	}
	n, err = in.Count(ctx, big, "", nil)
	if err != nil || n.Exact || n.Rows < 150000 || n.Rows > 250000 {
		t.Errorf("Count(big) = %+v, %v; want an estimate near 200000", n, err)
	}
	if _, err := in.Count(ctx, capture.TableID{Schema: "shop", Name: "none"}, "", nil); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("Count of a missing table: %v, want no such table", err)
	}
	cols, err := in.Columns(ctx, small)
	if err != nil || !slices.Equal(cols, []string{"id", "v", "note"}) {
		t.Errorf("Columns(small) = %v, %v", cols, err)
	}
	if cols, err := in.Columns(ctx, capture.TableID{Schema: "shop", Name: "none"}); err != nil || cols != nil {
		t.Errorf("Columns of a missing table = %v, %v; want nil", cols, err)
	}
	if _, err := in.db.ExecContext(ctx, "DELETE FROM shop.small"); err == nil || !strings.Contains(err.Error(), "READ ONLY") {
		t.Errorf("a write on the inspector's session: %v, want it refused as read-only", err)
	}
}
