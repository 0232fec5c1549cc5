package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestTwoWaySameKeyInTransaction checks that a two-way scope's batched
// conflict probes (apply.BatchProber) see the earlier changes of their
// batch: one source transaction writes the same keys several times
// (insert then updates, delete then insert, a key moved away and
// reused, two updates of a row the other side changed), for PostgreSQL
// and for MariaDB targets. Only the row the other side changed
// conflicts, once per change of it at each side; every other change
// applies, so both sides end equal but for that row, which park keeps
// as each side has it. A probe of the state before the batch would
// find the inserted row missing for its updates, and park them.
func TestTwoWaySameKeyInTransaction(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		twoWaySameKey(t, pgNode(t, pg, "a"), pgNode(t, pg, "b"))
	})
	t.Run("postgres-mariadb", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		m := testenv.StartMariaDB(t)
		twoWaySameKey(t, pgNode(t, pg, "a"), mariaNode(t, m, "b"))
	})
}

func twoWaySameKey(t *testing.T, a, b node) {
	for _, n := range []node{a, b} {
		n.exec("INSERT INTO t VALUES (1, 'seed', 0), (2, 'seed', 0), (3, 'seed', 0), (4, 'seed', 0)")
	}
	d := newDaemon(t, pairHCL(a, b)+fmt.Sprintf(`
scope "ab" {
  source    = "a"
  targets   = ["tb"]
  snapshot  = "never"
  conflicts = "park"
  table "public.t" {
    target = %q
  }
}
scope "ba" {
  source    = "b"
  targets   = ["ta"]
  snapshot  = "never"
  conflicts = "park"
  table %q {
    target = "public.t"
  }
}
`, tableOf(b), tableOf(b)))
	d.Start()
	waitStreams(t, connect(t, d), "ab", "ba")
	if b.kind == "mysql" {
		waitSaved(t, d, "b")
	}
	d.Kill()

	// While syncd is down, b changes row 4; a writes its keys over and
	// over in one transaction.
	newWriter(t, b).exec(t, "UPDATE t SET v = 'b' WHERE id = 4")
	db, err := sql.Open(a.driver, a.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"INSERT INTO t VALUES (100, 'new', 1)",
		"UPDATE t SET n = 2 WHERE id = 100",
		"UPDATE t SET v = 'newer' WHERE id = 100",
		"DELETE FROM t WHERE id = 1",
		"INSERT INTO t VALUES (1, 'again', 1)",
		"UPDATE t SET id = 200 WHERE id = 2",
		"INSERT INTO t VALUES (2, 'reused', 2)",
		"UPDATE t SET n = n + 1 WHERE id = 3",
		"UPDATE t SET n = n + 1 WHERE id = 3",
		"UPDATE t SET n = 5 WHERE id = 4",
		"UPDATE t SET n = 6 WHERE id = 4",
	} {
		if _, err := tx.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitDumpGone(t, b)
	d.Start()

	const others = "SELECT id, v, n FROM t WHERE id <> 4 ORDER BY id"
	want := "1|again|1\n2|reused|2\n3|seed|2\n100|newer|2\n200|seed|0\n"
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		for _, n := range []node{a, b} {
			got, err := rowsText(n, others)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%s holds\n%swant\n%s", n.kind, got, want)
			}
		}
		return nil
	})
	// Park kept each side's row 4; the conflicts are a's two updates at
	// b and b's update at a, once each has been applied.
	var conflicts []string
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		conflicts = conflicts[:0]
		for _, c := range readConflicts(t, connect(t, d)) {
			var row struct {
				ID int `json:"id"`
				N  int `json:"n"`
			}
			if err := json.Unmarshal(c.Source, &row); err != nil {
				return fmt.Errorf("conflict's new row %s: %w", c.Source, err)
			}
			conflicts = append(conflicts, fmt.Sprintf("%s %s id %d n %d", c.Target, c.Kind, row.ID, row.N))
		}
		slices.Sort(conflicts)
		if len(conflicts) < 3 {
			return fmt.Errorf("conflicts %q, want 3", conflicts)
		}
		return nil
	})
	want4 := []string{"ta update_differs id 4 n 0", "tb update_differs id 4 n 5", "tb update_differs id 4 n 6"}
	if !slices.Equal(conflicts, want4) {
		t.Errorf("conflicts:\n%s\nwant:\n%s", strings.Join(conflicts, "\n"), strings.Join(want4, "\n"))
	}
	for _, side := range []struct {
		n    node
		want string
	}{{a, "4|seed|6\n"}, {b, "4|b|0\n"}} {
		if got, err := rowsText(side.n, "SELECT id, v, n FROM t WHERE id = 4"); err != nil || got != side.want {
			t.Errorf("row 4 at %s: %q (%v), want %q", side.n.kind, got, err, side.want)
		}
	}
}
