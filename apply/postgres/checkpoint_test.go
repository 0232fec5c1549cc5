package postgres

import (
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/apply/plan"
)

// TestCheckpointRoundTrip: see applytest.CheckpointRoundTrip. jsonb keeps
// JSON by value, not as text; last_stream_seq is a bigint.
func TestCheckpointRoundTrip(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SyncdVersion = "v1.2.3" })
	applytest.CheckpointRoundTrip(t, e.suite(), items, applytest.CheckpointOptions{StreamSeq: 1<<40 + 7})
}

// TestScopeInfoMigration: see applytest.ScopeInfoMigration, on the table
// as syncd created it before the backfill columns.
func TestScopeInfoMigration(t *testing.T) {
	e := newEnv(t)
	old := strings.Replace(e.tg.sql.create, plan.BackfillDDL(scopeInfoDialect), "", 1)
	applytest.ScopeInfoMigration(t, e.suite(), items, old,
		`INSERT INTO syncd_scope_info VALUES ('s', 'app', 1, NULL, NULL, '0/7', 3, now(), 1, 5, 'v0')`)
}
