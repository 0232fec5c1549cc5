package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestTwoWayMapping syncs PostgreSQL databases a and b both ways through
// mappings (issue 21): a's people(full_name, email) are b's
// people(first_name, last_name, mail), split one way and joined back by
// the reverse mapping that scope ba declares; a's tags(label) are b's
// tags(name), a pure rename whose reverse syncd derives. Both scopes
// park conflicts, so the updates landing both ways show that the
// before-images are mapped too: conflict detection compares the target's
// row with the old row in the target's columns, or parks every update.
func TestTwoWayMapping(t *testing.T) {
	pg := testenv.StartPostgres(t)
	a, b := pgNode(t, pg, "a"), pgNode(t, pg, "b")
	a.exec(`CREATE TABLE people (id int PRIMARY KEY, full_name text, email text)`, `ALTER TABLE people REPLICA IDENTITY FULL`,
		`CREATE TABLE tags (id int PRIMARY KEY, label text)`, `ALTER TABLE tags REPLICA IDENTITY FULL`)
	b.exec(`CREATE TABLE people (id int PRIMARY KEY, first_name text, last_name text, mail text)`, `ALTER TABLE people REPLICA IDENTITY FULL`,
		`CREATE TABLE tags (id int PRIMARY KEY, name text)`, `ALTER TABLE tags REPLICA IDENTITY FULL`)
	d := newDaemon(t, pairHCL(a, b)+`
scope "ab" {
  source    = "a"
  targets   = ["tb"]
  snapshot  = "never"
  conflicts = "park"
  table "public.people" {
    mapping {
      drop = ["full_name"]
      column "first_name" { expr = "split(full_name, ' ')[0]" }
      column "last_name" { expr = "split(full_name, ' ')[1]" }
      column "mail" { from = "email" }
    }
  }
  table "public.tags" {
    mapping {
      column "name" { from = "label" }
    }
  }
}
scope "ba" {
  source    = "b"
  targets   = ["ta"]
  snapshot  = "never"
  conflicts = "park"
  table "public.people" {
    mapping {
      drop = ["first_name", "last_name"]
      column "full_name" { expr = "first_name + ' ' + last_name" }
      column "email" { from = "mail" }
    }
  }
  table "public.tags" {}
}
`)
	d.Start()
	waitStreams(t, connect(t, d), "ab", "ba")

	peopleA := `SELECT id, full_name, email FROM people ORDER BY id`
	peopleB := `SELECT id, first_name || ' ' || last_name, mail FROM people ORDER BY id`
	tagsA, tagsB := `SELECT id, label FROM tags ORDER BY id`, `SELECT id, name FROM tags ORDER BY id`
	// agree waits until a and b hold the same rows, in a's columns, and
	// those are want.
	agree := func(qa, qb string, want ...string) {
		t.Helper()
		testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
			for _, side := range []struct {
				n node
				q string
			}{{a, qa}, {b, qb}} {
				got, err := queryRows(side.n.driver, side.n.dsn, side.q)
				if err != nil {
					return err
				}
				if g := joinRows(got); !slices.Equal(g, want) {
					return fmt.Errorf("%s holds %q, want %q", side.q, g, want)
				}
			}
			return nil
		})
	}

	a.exec(`INSERT INTO people VALUES (1, 'Ada Lovelace', 'ada@a'), (2, 'Alan Turing', 'alan@a')`, `INSERT INTO tags VALUES (1, 'red')`)
	b.exec(`INSERT INTO people VALUES (3, 'Grace', 'Hopper', 'grace@b')`, `INSERT INTO tags VALUES (2, 'blue')`)
	agree(peopleA, peopleB, "1|Ada Lovelace|ada@a", "2|Alan Turing|alan@a", "3|Grace Hopper|grace@b")
	agree(tagsA, tagsB, "1|red", "2|blue")

	// Updates of rows the other side inserted, and deletes, both ways.
	a.exec(`UPDATE people SET full_name = 'Grace Brewster' WHERE id = 3`, `UPDATE people SET email = 'alan@turing' WHERE id = 2`,
		`UPDATE tags SET label = 'azure' WHERE id = 2`)
	b.exec(`UPDATE people SET last_name = 'King' WHERE id = 1`, `UPDATE tags SET name = 'crimson' WHERE id = 1`)
	agree(peopleA, peopleB, "1|Ada King|ada@a", "2|Alan Turing|alan@turing", "3|Grace Brewster|grace@b")
	agree(tagsA, tagsB, "1|crimson", "2|azure")
	b.exec(`DELETE FROM people WHERE id = 2`)
	a.exec(`DELETE FROM tags WHERE id = 1`)
	agree(peopleA, peopleB, "1|Ada King|ada@a", "3|Grace Brewster|grace@b")
	agree(tagsA, tagsB, "2|azure")
}
