package postgres

import (
	"context"
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

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
			logs := runLogged(t, Config{DSN: dsn, Slot: fmt.Sprintf("s%d", i), Tables: []capture.TableSpec{{ID: req.Table}},
				ChunkRows: 7, Parallelism: 3, MinRangeRows: 2}, sink)
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

// heldCopy is a modelTarget whose snapshot transactions wait, at their
// Begin, until release is closed, and which records the rows they read.
type heldCopy struct {
	*modelTarget
	release chan struct{}
	rmu     sync.Mutex
	read    map[int32]any // id -> v
	twice   []int32
}

func (h *heldCopy) Begin(ctx context.Context, txn *capture.Txn) error {
	if txn.Snapshot {
		select {
		case <-h.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return h.modelTarget.Begin(ctx, txn)
}

func (h *heldCopy) Change(ctx context.Context, ev *capture.Event) error {
	if ev.Op == capture.OpRead {
		h.rmu.Lock()
		id := ev.After[0].(int32)
		if _, ok := h.read[id]; ok {
			h.twice = append(h.twice, id)
		}
		h.read[id] = ev.After[1]
		h.rmu.Unlock()
	}
	return h.modelTarget.Change(ctx, ev)
}

// TestParallelSnapshotUnderWrites: a table without a primary key, copied
// in one transaction of an exported snapshot by three connections that
// import it, each reading a range of its pages, reads exactly the rows of
// the snapshot, although a writer updated, deleted and inserted rows all
// over it between the export and the read; with the writes that follow,
// the target applying the stream ends up equal to the source.
func TestParallelSnapshotUnderWrites(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", `CREATE TABLE item (id int NOT NULL, v text, big text);
ALTER TABLE item REPLICA IDENTITY FULL;
INSERT INTO item SELECT g, md5(g::text), md5(g::text) FROM generate_series(1, 5000) g`)
	sink := &heldCopy{
		modelTarget: newModelTarget(capture.SnapshotRequest{Scope: "items", Table: capture.TableID{Schema: "public", Name: "item"}, Truncate: true}),
		release:     make(chan struct{}), read: make(map[int32]any),
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	logs := runLogged(t, Config{DSN: dsn, Tables: []capture.TableSpec{{ID: sink.req.Table}}, Parallelism: 3, MinRangePages: 1}, sink)
	testenv.Eventually(t, 30*time.Second, 10*time.Millisecond, func() error {
		if !strings.Contains(logs.String(), "snapshot exported") {
			return fmt.Errorf("no snapshot exported yet")
		}
		return nil
	})

	rng := rand.New(rand.NewPCG(3, 4))
	for writes, after := 0, 0; after < 50; writes++ {
		if writes == 300 {
			close(sink.release) // the copy reads now, after 300 writes
		}
		id := 1 + rng.IntN(5000+writes)
		q := fmt.Sprintf(`UPDATE item SET v = 'changed' WHERE id = %d`, id)
		switch rng.IntN(4) {
		case 0:
			q = fmt.Sprintf(`DELETE FROM item WHERE id = %d`, id)
		case 1:
			q = fmt.Sprintf(`INSERT INTO item VALUES (%d, 'new', 'x')`, 10000+writes)
		}
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
		sink.mu.Lock()
		if sink.done >= 0 {
			after++
		}
		sink.mu.Unlock()
	}
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error { return sink.converged(ctx, conn) })
	if !strings.Contains(logs.String(), "parts=3") {
		t.Errorf("the snapshot was not read in 3 parts:\n%s", logs.String())
	}
	sink.rmu.Lock()
	defer sink.rmu.Unlock()
	if len(sink.twice) > 0 {
		t.Errorf("rows read twice: %v", sink.twice)
	}
	if len(sink.read) != 5000 {
		t.Errorf("%d rows read, want the snapshot's 5000", len(sink.read))
	}
	for id := int32(1); id <= 5000; id++ {
		if want := fmt.Sprintf("%x", md5.Sum([]byte(strconv.Itoa(int(id))))); sink.read[id] != want {
			t.Fatalf("row %d read as %v, want %q as of the snapshot", id, sink.read[id], want)
		}
	}
}

// runLogged runs a source of cfg, named app, of publication p and of slot
// s unless cfg names another, against sink, and returns its debug logs.
func runLogged(t *testing.T, cfg Config, sink capture.Sink) *testenv.LogBuffer {
	t.Helper()
	logs := &testenv.LogBuffer{}
	cfg.Name, cfg.Publication = "app", "p"
	if cfg.Slot == "" {
		cfg.Slot = "s"
	}
	src, err := New(cfg, Options{Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	runSource(t, src, sink)
	return logs
}
