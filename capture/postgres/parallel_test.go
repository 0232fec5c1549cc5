package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestParallelBackfillKeys: chunks read in parts page through keys whose
// order only the server knows (a composite key of text in the database's
// collation, with quotes, backslashes and non-ASCII letters, and bytea;
// most rows under one key prefix), reading every row exactly once, and
// an empty table's backfill ends with no row.
func TestParallelBackfillKeys(t *testing.T) {
	pg := testenv.StartPostgres(t)
	tests := []struct {
		name  string
		setup string
		rows  int
	}{
		{name: "composite text and bytea", rows: 300, setup: `CREATE TABLE doc (name text, tag bytea, n int NOT NULL, v text, big text, PRIMARY KEY (name, tag));
INSERT INTO doc SELECT CASE WHEN g % 10 < 7 THEN 'a' ELSE (ARRAY['B', 'ç', 'it''s', 'back\slash', 'Z'])[1 + g % 5] END || (g / 3)::text,
  decode(lpad(to_hex(g % 3), 2, '0'), 'hex'), g, NULL, NULL FROM generate_series(1, 300) g`},
		{name: "empty", rows: 0, setup: `CREATE TABLE doc (id bigint PRIMARY KEY, n int NOT NULL)`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := fmt.Sprintf("keys%d", i)
			dsn := pg.CreateDB(t, db)
			pg.Exec(t, db, tt.setup)
			req := capture.SnapshotRequest{Scope: "s", Table: capture.TableID{Schema: "public", Name: "doc"}, Truncate: true}
			sink := &heldSnapshot{recorder: &recorder{}, req: req, hold: -1, done: -1}
			var logs testenv.LogBuffer
			src, err := New(Config{Name: "app", DSN: dsn, Slot: fmt.Sprintf("s%d", i), Publication: "p", Tables: []capture.TableSpec{{ID: req.Table}},
				ChunkRows: 7, Parallelism: 3, MinRangeRows: 2}, Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})})
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Prepare(context.Background()); err != nil {
				t.Fatal(err)
			}
			runSource(t, src, sink)
			testenv.Eventually(t, 60*time.Second, 20*time.Millisecond, func() error {
				sink.mu.Lock()
				defer sink.mu.Unlock()
				if sink.done < 0 {
					return fmt.Errorf("the backfill is not done")
				}
				return nil
			})
			events, _, _ := sink.snapshot()
			seen := map[int32]bool{}
			for _, ev := range events {
				if ev.Op != capture.OpRead {
					continue
				}
				n := ev.After[2].(int32)
				if seen[n] {
					t.Fatalf("row %d read twice", n)
				}
				seen[n] = true
			}
			if len(seen) != tt.rows {
				t.Errorf("%d rows read, want %d", len(seen), tt.rows)
			}
			if tt.rows > 0 && !strings.Contains(logs.String(), "parts=3 ") {
				t.Errorf("no chunk was read in 3 parts:\n%s", logs.String())
			}
		})
	}
}
