package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
)

// TestNewerWinsCommitTimes: a Target with a replication origin records
// each change's Committed as the commit time of the rows it writes
// (newer_wins), a later transaction without one gets its own again, and
// Probe compares a change's Committed with the row's.
func TestNewerWinsCommitTimes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Origin = "syncd:test:s:replica" })
	e.exec(strictDDL)
	e.prepare(items)
	first := time.Date(2020, 1, 2, 3, 4, 5, 123456000, time.UTC)
	c := applytest.Good(items, 1)
	c.Committed = first
	if err := e.run(false, applytest.Record(1), c); err != nil {
		t.Fatal(err)
	}
	if err := e.run(false, applytest.Record(2), applytest.Good(items, 2)); err != nil {
		t.Fatal(err)
	}
	got := e.rows(`SELECT id, pg_xact_commit_timestamp(xmin) AT TIME ZONE 'UTC' < now() - interval '1 day' FROM items ORDER BY id`)
	if want := []string{"1|t", "2|f"}; !slices.Equal(got, want) {
		t.Errorf("rows with an old commit time: %q, want %q", got, want)
	}
	if got := e.rows(`SELECT pg_xact_commit_timestamp(xmin) AT TIME ZONE 'UTC' FROM items WHERE id = 1`); !slices.Equal(got, []string{"2020-01-02 03:04:05.123456"}) {
		t.Errorf("commit time of row 1: %q, want the change's", got)
	}

	ctx := applytest.Context(t)
	for _, tc := range []struct {
		at   time.Time
		want int
	}{{first.Add(-time.Microsecond), -1}, {first, 0}, {first.Add(time.Microsecond), 1}} {
		tx, err := e.tg.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		u := applytest.Good(items, 1)
		u.Committed = tc.at
		p, err := tx.(apply.Prober).Probe(ctx, u, "")
		if err != nil {
			t.Fatal(err)
		}
		if !p.Found || p.Newer != tc.want {
			t.Errorf("probe at %s: found %v, newer %d, want %d", tc.at, p.Found, p.Newer, tc.want)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
