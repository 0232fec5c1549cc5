package mysql

import (
	"fmt"
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
	old := fmt.Sprintf(scopeInfoDDL, "syncd_scope_info", "") // no backfill columns
	applytest.ScopeInfoMigration(t, e.suite(), items, old,
		`INSERT INTO syncd_scope_info VALUES ('s', 'app', 1, NULL, NULL, '0/7', 7, 3, UTC_TIMESTAMP(6), 1, 5, 'v0')`)
}
