package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestInspector checks the read-only reads of syncd plan: counts exact on
// small tables and estimated on large ones, columns, publication and
// slot, on a session that refuses writes.
func TestInspector(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app",
		`CREATE TABLE small (id int PRIMARY KEY, v int, note text)`,
		`INSERT INTO small SELECT g, g % 10, NULL FROM generate_series(1, 100) g`,
		`CREATE TABLE big (id int PRIMARY KEY, v int)`,
		`INSERT INTO big SELECT g, g % 10 FROM generate_series(1, 200000) g`,
		`ANALYZE big`,
		`CREATE PUBLICATION pub FOR TABLE small`)
	ctx := context.Background()
	in, err := Inspect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	small, big := capture.TableID{Schema: "public", Name: "small"}, capture.TableID{Schema: "public", Name: "big"}

	n, err := in.Count(ctx, small, `"v" > $1`, []any{6})
	if err != nil || n != (capture.RowCount{Rows: 30, Exact: true}) {
		t.Errorf("Count(small, v > 6) = %+v, %v; want 30 exact", n, err)
	}
	n, err = in.Count(ctx, big, `"v" < $1`, []any{5})
	if err != nil || n.Exact || n.Rows < 80000 || n.Rows > 120000 {
		t.Errorf("Count(big, v < 5) = %+v, %v; want an estimate near 100000", n, err)
	}
	if _, err := in.Count(ctx, capture.TableID{Schema: "public", Name: "none"}, "", nil); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("Count of a missing table: %v, want no such table", err)
	}

	cols, err := in.Columns(ctx, small)
	if err != nil || !slices.Equal(cols, []string{"id", "v", "note"}) {
		t.Errorf("Columns(small) = %v, %v", cols, err)
	}
	if cols, err := in.Columns(ctx, capture.TableID{Schema: "public", Name: "none"}); err != nil || cols != nil {
		t.Errorf("Columns of a missing table = %v, %v; want nil", cols, err)
	}

	pub, err := in.Publication(ctx, "pub")
	if err != nil || !pub.Exists || pub.AllTables || !slices.Equal(pub.Tables, []capture.TableID{small}) {
		t.Errorf("Publication(pub) = %+v, %v", pub, err)
	}
	if pub, err := in.Publication(ctx, "nopub"); err != nil || pub.Exists {
		t.Errorf("Publication(nopub) = %+v, %v; want none", pub, err)
	}
	if ok, err := in.SlotExists(ctx, "noslot"); err != nil || ok {
		t.Errorf("SlotExists(noslot) = %v, %v", ok, err)
	}

	if _, err := in.conn.Exec(ctx, `DELETE FROM small`); err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("a write on the inspector's session: %v, want it refused as read-only", err)
	}
}
