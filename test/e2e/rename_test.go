package e2e

import (
	"testing"
	"time"
)

// TestRenameColumnInBacklogPostgres renames a column at the source while
// changes from before it are still unread. The log cannot tell a rename
// from a drop and an add, so the target keeps the old column with the
// values it had and gets the new one, filled for the rows changed after
// the rename (README, "Replicating into target databases").
func TestRenameColumnInBacklogPostgres(t *testing.T) {
	r := itemsInPostgresBacklog(t, `CREATE TABLE items (id int PRIMARY KEY, name text, note text)`,
		`INSERT INTO items VALUES (0, 'zero', 'n0')`,
		`INSERT INTO items VALUES (1, 'one', 'n1')`,
		`ALTER TABLE items RENAME COLUMN note TO memo`,
		`INSERT INTO items VALUES (2, 'two', 'm2')`,
		`UPDATE items SET name = 'one!' WHERE id = 1`)
	changed := []string{`SELECT id, name, memo FROM items WHERE id > 0 ORDER BY id`}
	waitIdentical(t, r, time.Minute, changed, changed)
	_, got, err := checksum(t, r.dstDSN, `SELECT id, name, note, memo FROM items ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT * FROM (VALUES (0, 'zero', 'n0', NULL), (1, 'one!', 'n1', 'n1'), (2, 'two', NULL, 'm2')) AS v(id, name, note, memo) ORDER BY id`
	if _, sum, _ := checksum(t, r.srcDSN, want); got != sum {
		t.Fatalf("after the rename the target does not hold the old column's values and the new column's")
	}
}
