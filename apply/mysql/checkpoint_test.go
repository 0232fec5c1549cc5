package mysql

import (
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
)

// TestCheckpointRoundTrip: see applytest.CheckpointRoundTrip, JSON text
// included.
func TestCheckpointRoundTrip(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SyncdVersion = "v1.2.3" })
	applytest.CheckpointRoundTrip(t, e.suite(), items, applytest.CheckpointOptions{StreamSeq: 1<<63 + 7, JSONText: true})
}

// TestCheckpointPositionColumns: scope_info holds the position as text
// and, for ordering, as a number.
func TestCheckpointPositionColumns(t *testing.T) {
	e := newEnv(t)
	e.prepare(items)
	rec := applytest.Record(0x16B3748_0000_0001)
	if err := e.run(false, rec); err != nil {
		t.Fatal(err)
	}
	if got := e.rows("SELECT last_position, last_position_num FROM syncd_scope_info WHERE source = 'app'"); len(got) != 1 || got[0] != "16B3748/1|102236198923141121" {
		t.Errorf("position columns %q", got)
	}
}

// TestScopeInfoMigration: see applytest.ScopeInfoMigration, on the table
// as syncd created it before the backfill columns.
func TestScopeInfoMigration(t *testing.T) {
	e := newEnv(t)
	applytest.ScopeInfoMigration(t, e.suite(), items, `CREATE TABLE syncd_scope_info (
	scope             VARCHAR(255) NOT NULL,
	source            VARCHAR(255) NOT NULL,
	scope_version     INT NOT NULL,
	definition        JSON NULL,
	column_schema     JSON NULL,
	last_position     VARCHAR(32) NOT NULL,
	last_position_num BIGINT UNSIGNED NOT NULL,
	last_stream_seq   BIGINT UNSIGNED NOT NULL,
	last_applied_at   DATETIME(6) NOT NULL,
	last_txn_apply_ms DOUBLE NOT NULL,
	rows_applied      BIGINT NOT NULL,
	syncd_version     VARCHAR(255) NOT NULL,
	PRIMARY KEY (scope, source)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		`INSERT INTO syncd_scope_info VALUES ('s', 'app', 1, NULL, NULL, '0/7', 7, 3, UTC_TIMESTAMP(6), 1, 5, 'v0')`)
}
