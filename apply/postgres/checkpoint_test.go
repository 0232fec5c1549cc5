package postgres

import (
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
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
	applytest.ScopeInfoMigration(t, e.suite(), items, `CREATE TABLE syncd_scope_info (
	scope             text NOT NULL,
	source            text NOT NULL,
	scope_version     integer NOT NULL,
	definition        jsonb,
	column_schema     jsonb,
	last_position     text NOT NULL,
	last_stream_seq   bigint NOT NULL,
	last_applied_at   timestamptz NOT NULL,
	last_txn_apply_ms double precision NOT NULL,
	rows_applied      bigint NOT NULL,
	syncd_version     text NOT NULL,
	PRIMARY KEY (scope, source)
)`,
		`INSERT INTO syncd_scope_info VALUES ('s', 'app', 1, NULL, NULL, '0/7', 3, now(), 1, 5, 'v0')`)
}
