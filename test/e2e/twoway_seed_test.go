package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestTwoWaySeed starts a two-way pair whose databases already hold rows
// (seed): keys 1-3 equal at both, 4 and 5 with other values, 6 at a
// only, 7 at b only. After the first copies each way, both sides hold
// the rows the seed rule names: the seed's values for 4 and 5, every
// one-sided row on both; each differing key is a conflict on
// syncd.<scope>._conflict with rule seed at each side; nothing
// ping-pongs (each stream holds its source's rows once, and a change
// written after the copies crosses once). PostgreSQL with PostgreSQL
// (seed a, then on the same server seed merge) and with MariaDB (seed
// b, the MariaDB side). With seed merge the tables' conflict policies,
// which override the scopes' (source_wins one way, target_wins the
// other), name b, so b's values win and the conflicts carry those rules.
func TestTwoWaySeed(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		t.Run("seed-a", func(t *testing.T) {
			twoWaySeed(t, pgNode(t, pg, "a"), pgNode(t, pg, "b"), "a")
		})
		t.Run("merge", func(t *testing.T) {
			// Slots of their own: the cluster holds seed-a's.
			a, b := pgNode(t, pg, "ma"), pgNode(t, pg, "mb")
			a.source, b.source = `slot = "syncd_ma"`, `slot = "syncd_mb"`
			twoWaySeed(t, a, b, scopes.SeedMerge)
		})
	})
	t.Run("postgres-mariadb", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		m := testenv.StartMariaDB(t)
		twoWaySeed(t, pgNode(t, pg, "a"), mariaNode(t, m, "b"), "b")
	})
}

func twoWaySeed(t *testing.T, a, b node, seed string) {
	for _, n := range []node{a, b} {
		n.exec("INSERT INTO t VALUES (1, 'same', 1), (2, 'same', 2), (3, NULL, 3)")
	}
	a.exec("INSERT INTO t VALUES (4, 'a', 4), (5, 'a', NULL), (6, 'only-a', 6)")
	b.exec("INSERT INTO t VALUES (4, 'b', 4), (5, 'b', 5), (7, 'only-b', 7)")
	// With seed merge the tables' policies settle the keys both hold
	// with other values: b's rows win, against the scopes' policies.
	abTable, baTable := "", ""
	if seed == scopes.SeedMerge {
		abTable, baTable = `conflicts = "target_wins"`, `conflicts = "source_wins"`
	}
	d := newDaemon(t, pairHCL(a, b)+fmt.Sprintf(`
scope "ab" {
  source    = "a"
  targets   = ["tb"]
  conflicts = "source_wins"
  seed      = %[2]q
  table "public.t" {
    target = %[1]q
    %[3]s
  }
}
scope "ba" {
  source    = "b"
  targets   = ["ta"]
  conflicts = "target_wins"
  seed      = %[2]q
  table %[1]q {
    target = "public.t"
    %[4]s
  }
}
`, tableOf(b), seed, abTable, baTable))
	d.Start()

	want := "1|same|1\n2|same|2\n3||3\n4|a|4\n5|a|\n6|only-a|6\n7|only-b|7\n"
	if seed != "a" {
		want = "1|same|1\n2|same|2\n3||3\n4|b|4\n5|b|5\n6|only-a|6\n7|only-b|7\n"
	}
	converged := func(want string) {
		t.Helper()
		testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
			for _, n := range []node{a, b} {
				got, err := rowsText(n, twoWayRows)
				if err != nil {
					return err
				}
				if got != want {
					return fmt.Errorf("%s holds\n%swant\n%s", n.kind, got, want)
				}
			}
			return nil
		})
	}
	converged(want)

	// Changes after the copies cross once, each way. Each waits for
	// the one before at the other side, whose capture has then read the
	// echo the one before would have made.
	a.exec("UPDATE t SET v = 'after-a' WHERE id = 1")
	waitValue(t, b, 1, "after-a")
	b.exec("UPDATE t SET v = 'after-b' WHERE id = 7")
	waitValue(t, a, 7, "after-b")
	a.exec("UPDATE t SET v = 'after-a' WHERE id = 6")
	want = strings.NewReplacer("1|same|1", "1|after-a|1", "7|only-b|7", "7|after-b|7", "6|only-a|6", "6|after-a|6").Replace(want)
	converged(want)

	nc := connect(t, d)
	// No loop: each stream holds its source's rows, copied (a copy may
	// hold a row of the other side's that syncd applied first), and the
	// updates written there; none of the changes syncd applied there.
	for sc, writes := range map[string]int{"ab": 2, "ba": 1} {
		reads, changes := 0, 0
		for _, m := range readRows(t, nc, sc) {
			switch {
			case m.Env.Op == "r":
				reads++
			case m.Env.Source.Origin != "":
				t.Errorf("stream %s holds an echo: %s with origin %q", sc, m.Subject, m.Env.Source.Origin)
			default:
				changes++
			}
		}
		if reads < 6 || reads > 7 || changes != writes {
			t.Errorf("stream %s holds %d copied rows and %d changes, want 6 or 7 and %d", sc, reads, changes, writes)
		}
	}
	// Keys 4 and 5 met other rows at both sides: settled by the seed.
	got := map[string]int{}
	for _, c := range readConflicts(t, nc) {
		got[fmt.Sprintf("%s %s %s %s", c.Target, c.Kind, c.Rule, c.Outcome)]++
	}
	winner, loser := "tb", "ta"
	if seed != "a" {
		winner, loser = "ta", "tb"
	}
	// The seed's copy meets the other side's values of 4 and 5; the
	// other copy meets the seed's rows, unless the seed's copy was
	// applied first. With merge, the winner's rule is ba's table policy
	// (source_wins at a), the loser's ab's (target_wins at b).
	applied, kept := winner+" insert_exists seed source_applied", loser+" insert_exists seed target_kept"
	if seed == scopes.SeedMerge {
		applied, kept = winner+" insert_exists source_wins source_applied", loser+" insert_exists target_wins target_kept"
	}
	if got[applied] != 2 || got[kept] != 0 && got[kept] != 2 || len(got) > 2 {
		t.Errorf("conflicts %v, want 2 of %q and 0 or 2 of %q", got, applied, kept)
	}
}

// waitValue waits until the row with id in n's table has v = value.
func waitValue(t *testing.T, n node, id int, value string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		got, err := rowsText(n, fmt.Sprintf("SELECT v FROM t WHERE id = %d", id))
		if err != nil {
			return err
		}
		if got != value+"\n" {
			return fmt.Errorf("row %d of %s: %q, want %q", id, n.kind, got, value)
		}
		return nil
	})
}
