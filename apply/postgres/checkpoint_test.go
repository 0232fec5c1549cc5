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
