package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// modelTarget applies a source's events to one table held in memory,
// keyed by its first column, as a target of one scope would: reads and
// inserts upsert, updates move and write the row, deletes delete,
// truncates empty; the recorder keeps every event. Like the router, it
// drops live changes until a truncating snapshot starts. It takes one
// snapshot request and records its state.
type modelTarget struct {
	recorder
	req capture.SnapshotRequest

	mu     sync.Mutex
	rows   map[int32]capture.Row
	open   bool  // the backfill's first event has come, SnapshotDone not yet
	done   int64 // rows SnapshotDone recorded; -1 until then
	states [][]byte
	reads  []int32 // keys of the snapshot reads, in order
	// stopAt, if set, is the chunk state after which SnapshotProgressed
	// closes stopped and waits until the source is stopped.
	stopAt  int
	stopped chan struct{}
}

func newModelTarget(req capture.SnapshotRequest) *modelTarget {
	return &modelTarget{req: req, rows: make(map[int32]capture.Row), done: -1}
}

func (m *modelTarget) Change(ctx context.Context, ev *capture.Event) error {
	if err := m.recorder.Change(ctx, ev); err != nil { // keeps every event
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case ev.Scope != "":
		m.open = true
	case !m.open && m.done < 0:
		return nil // the router drops changes until a truncating snapshot starts
	}
	switch ev.Op {
	case capture.OpTruncate:
		clear(m.rows)
	case capture.OpDelete:
		delete(m.rows, ev.Before[0].(int32))
	case capture.OpRead, capture.OpInsert:
		m.rows[ev.After[0].(int32)] = clone(ev.After)
		if ev.Op == capture.OpRead {
			m.reads = append(m.reads, ev.After[0].(int32))
		}
	case capture.OpUpdate:
		delete(m.rows, ev.Before[0].(int32))
		m.rows[ev.After[0].(int32)] = clone(ev.After)
	}
	return nil
}

func (m *modelTarget) Snapshots() []capture.SnapshotRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done >= 0 {
		return nil
	}
	req := m.req
	if n := len(m.states); n > 0 {
		req.Resume = m.states[n-1]
	}
	return []capture.SnapshotRequest{req}
}

func (m *modelTarget) SnapshotDone(_ context.Context, _ capture.SnapshotRequest, rows int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done, m.open = rows, false
	return nil
}

func (m *modelTarget) SnapshotProgressed(ctx context.Context, _ capture.SnapshotRequest, state []byte, _ int64) error {
	m.mu.Lock()
	m.states = append(m.states, state)
	stop := len(m.states) == m.stopAt
	m.mu.Unlock()
	if stop {
		close(m.stopped)
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (m *modelTarget) Resnapshot(context.Context, error) error { return nil }

func (m *modelTarget) chunks() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.states)
}

// converged returns nil once the backfill is done and the model holds
// exactly the rows of item.
func (m *modelTarget) converged(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT id, v FROM item`)
	if err != nil {
		return err
	}
	defer rows.Close()
	want := map[int32]string{}
	for rows.Next() {
		var id int32
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			return err
		}
		want[id] = v
	}
	if err := rows.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done < 0 {
		return fmt.Errorf("the backfill is not done")
	}
	if len(want) != len(m.rows) {
		return fmt.Errorf("the target has %d rows, the source %d", len(m.rows), len(want))
	}
	for id, v := range want {
		got, ok := m.rows[id]
		if !ok {
			return fmt.Errorf("row %d is missing at the target", id)
		}
		if got[1] != v {
			return fmt.Errorf("row %d differs: target v=%v, source v=%v", id, got[1], v)
		}
	}
	return nil
}

const itemRows = `INSERT INTO item SELECT seq, md5(seq) FROM seq_1_to_5000`

func itemSource(t *testing.T) (*testenv.MariaDB, string, *sql.DB) {
	t.Helper()
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY, v varchar(64) NOT NULL)`, itemRows)
	db, err := sql.Open("mysql", m.DSN("shop"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return m, dsn, db
}

func itemRequest() capture.SnapshotRequest {
	return capture.SnapshotRequest{Scope: "items", Table: capture.TableID{Schema: "shop", Name: "item"}, Truncate: true}
}

// TestBackfillUnderWrites: a table backfilled in chunks while writers
// update, delete, insert and re-key rows all over it ends up, at a
// target applying the stream, equal to the source: no row lost, none
// stale. The chunk rows that the writes touched in a chunk's window must
// give way to the writes. The watermarks are not passed on as changes.
func TestBackfillUnderWrites(t *testing.T) {
	for _, parallelism := range []int{1, 4} {
		t.Run(fmt.Sprintf("parallelism=%d", parallelism), func(t *testing.T) { backfillUnderWrites(t, parallelism) })
	}
}

// backfillUnderWrites runs TestBackfillUnderWrites with each chunk read
// by parallelism connections at once, each a part of its key range (at
// least 25 rows) in a consistent snapshot of its own: the window rule must hold for
// every part. The chunks must be read in that many parts.
func backfillUnderWrites(t *testing.T, parallelism int) {
	_, dsn, db := itemSource(t)
	ctx := context.Background()
	sink := newModelTarget(itemRequest())

	// Writers run from before the backfill until a little after it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	writes, inWindow := 0, 0
	deadline := time.Now().Add(60 * time.Second)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(1, uint64(w)))
			for after := 0; after < 30; {
				if time.Now().After(deadline) {
					t.Error("the backfill did not end in time")
					return
				}
				id := 1 + rng.IntN(5500)
				var q string
				switch rng.IntN(4) {
				case 0, 1:
					q = fmt.Sprintf(`UPDATE item SET v = md5(rand()) WHERE id = %d`, id)
				case 2:
					q = fmt.Sprintf(`DELETE FROM item WHERE id = %d`, id)
				default:
					q = fmt.Sprintf(`INSERT INTO item VALUES (%d, 'new') ON DUPLICATE KEY UPDATE v = 'upserted'`, 5000+rng.IntN(1000))
				}
				if rng.IntN(20) == 0 {
					q = fmt.Sprintf(`UPDATE IGNORE item SET id = %d WHERE id = %d`, 10000+1000*w+rng.IntN(1000), id)
				}
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Error(err)
					return
				}
				sink.mu.Lock()
				open, done := sink.open, sink.done >= 0
				sink.mu.Unlock()
				mu.Lock()
				writes++
				if open {
					inWindow++
				}
				mu.Unlock()
				if done {
					after++
				}
			}
		}()
	}
	var logs testenv.LogBuffer
	cfg := Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t), ChunkRows: 100, Parallelism: parallelism, MinRangeRows: 25}
	startLogged(t, cfg, sink, hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: &logs}))
	wg.Wait()
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error { return sink.converged(ctx, db) })
	// The writers insert and delete rows while the backfill runs, so it
	// sends about 5,000 rows: a state per chunk of at most 100 of them,
	// but the last, which the backfill's end records.
	sink.mu.Lock()
	sent := sink.done
	sink.mu.Unlock()
	if n, want := sink.chunks(), int((sent+99)/100)-1; n < want {
		t.Errorf("%d chunk states recorded for %d rows, want one per chunk but the last (%d, 100 rows a chunk)", n, sent, want)
	}
	events, _, _ := sink.get()
	for _, ev := range events {
		if ev.Table.Name == defaultSignalTable {
			t.Fatalf("a watermark was passed on: %+v", ev)
		}
	}
	t.Logf("%d writes, %d while the backfill ran; backfill sent %d rows in %d chunks", writes, inWindow, sink.done, sink.chunks())
	if want := fmt.Sprintf("parts=%d ", parallelism); !strings.Contains(logs.String(), want) {
		t.Errorf("no chunk was read in %d parts:\n%s", parallelism, logs.String())
	}
}

// TestBackfillResume: a source stopped mid-backfill and started again
// with the state last recorded continues after the last chunk recorded,
// not from the start, and replays the changes made since, also to rows
// already copied and while it was stopped: the target converges.
func TestBackfillResume(t *testing.T) {
	_, dsn, db := itemSource(t)
	ctx := context.Background()
	sink := newModelTarget(itemRequest())
	cfg := Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t), ChunkRows: 500, SaveInterval: 10 * time.Millisecond}
	sink.stopAt, sink.stopped = 3, make(chan struct{})
	r := start(t, cfg, sink)
	<-sink.stopped
	// The progress so far is in the status.
	if p := r.src.Status().Snapshot; p == nil || p.Rows < 1500 || p.Estimate <= 0 || p.Scope != "items" {
		t.Errorf("status shows progress %+v, want 1,500 rows or more of an estimate for scope items", p)
	}
	r.stop(t)
	sink.mu.Lock()
	var st capture.BackfillState
	if err := json.Unmarshal(sink.states[len(sink.states)-1], &st); err != nil {
		t.Fatal(err)
	}
	readBefore := len(sink.reads)
	sink.mu.Unlock()
	if st.After == nil || sink.done >= 0 {
		t.Fatalf("stopped at state %+v, done %d: want mid-backfill", st, sink.done)
	}
	resumeAt, err := strconv.Atoi(st.After[0])
	if err != nil {
		t.Fatal(err)
	}
	// While stopped: change rows already copied, and rows still to copy.
	for _, q := range []string{`UPDATE item SET v = 'while stopped' WHERE id IN (1, 4900)`, `DELETE FROM item WHERE id = 2`, `INSERT INTO item VALUES (7000, 'late')`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	start(t, cfg, sink)
	if _, err := db.ExecContext(ctx, `UPDATE item SET v = 'after restart' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error { return sink.converged(ctx, db) })
	watermarksDeleted(t, db) // the first run's too
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, id := range sink.reads[readBefore:] {
		if int(id) <= resumeAt {
			t.Fatalf("the resumed backfill read row %d again, at or before %d where the recorded state ends", id, resumeAt)
		}
	}
}

// TestBackfillIdleSource: with no other traffic on the server, the
// watermarks themselves reach the stream, and the backfill goes through
// its chunks to the end.
func TestBackfillIdleSource(t *testing.T) {
	_, dsn, db := itemSource(t)
	sink := newModelTarget(itemRequest())
	start(t, Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t), ChunkRows: 1000}, sink)
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error { return sink.converged(context.Background(), db) })
	if n := sink.chunks(); n < 5 {
		t.Errorf("%d chunks recorded, want 5 or more (5,000 rows, 1,000 a chunk)", n)
	}
	watermarksDeleted(t, db)
}

// TestBackfillTwoSources: two sources reading the same binlog backfill
// the same table at once, under writes, while a third party writes
// watermarks for the chunk in flight. Each sees the others' watermarks,
// with the same chunk numbers, in the shared signal table, and must
// ignore them: both targets converge.
func TestBackfillTwoSources(t *testing.T) {
	_, dsn, db := itemSource(t)
	ctx := context.Background()
	sinks := []*modelTarget{newModelTarget(itemRequest()), newModelTarget(itemRequest())}
	for i, sink := range sinks {
		start(t, Config{Name: fmt.Sprintf("shop%d", i), ServerID: uint32(4001 + i), DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t), ChunkRows: 100}, sink)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	deadline := time.Now().Add(60 * time.Second)
	for doneBoth := false; !doneBoth; {
		if time.Now().After(deadline) {
			t.Fatal("the backfills did not end in time")
		}
		q := fmt.Sprintf(`UPDATE item SET v = md5(rand()) WHERE id = %d`, 1+rng.IntN(5000))
		if rng.IntN(3) == 0 {
			q = fmt.Sprintf(`DELETE FROM item WHERE id = %d`, 1+rng.IntN(5000))
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
		for _, mark := range []string{"low", "high"} {
			w := fmt.Sprintf(`{"source":"shop0","server_id":4001,"run":"other","chunk":%d,"mark":%q}`, sinks[0].chunks()+1, mark)
			if _, err := db.ExecContext(ctx, `INSERT INTO syncd_signal (watermark) VALUES (?)`, w); err != nil {
				t.Fatal(err)
			}
		}
		doneBoth = true
		for _, sink := range sinks {
			sink.mu.Lock()
			doneBoth = doneBoth && sink.done >= 0
			sink.mu.Unlock()
		}
	}
	for _, sink := range sinks {
		testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error { return sink.converged(ctx, db) })
	}
}

// TestSnapshotOtherKeys: a table whose key the chunks cannot page
// through (an enum, ordered by its index, not by its text) is copied in
// one snapshot transaction, as before.
func TestSnapshotOtherKeys(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE tag (name enum('zz','aa','mm') PRIMARY KEY, n int)`, `INSERT INTO tag VALUES ('zz', 1), ('aa', 2), ('mm', 3)`)
	req := capture.SnapshotRequest{Scope: "s", Table: capture.TableID{Schema: "shop", Name: "tag"}, Truncate: true}
	rec := &recorder{snaps: []capture.SnapshotRequest{req}}
	start(t, Config{DSN: dsn, Tables: tables("shop", "tag"), Store: newStore(t), ChunkRows: 1}, snapshotRecorder{rec})
	rec.waitSnapshotDone(t)
	events, txns, _ := rec.get()
	if len(txns) != 1 || len(events) != 4 || !txns[0].Snapshot {
		t.Fatalf("transactions %+v, events %d: want one snapshot transaction of a truncate and 3 reads", txns, len(events))
	}
}

// TestBackfillEmptyTable: the backfill of an empty table sends its
// truncate with the table's columns, so that the sink can record the
// table's schema although no row follows, and then, in its one chunk's
// transaction, the end of the copy (capture.OpCopyEnd); also when the
// chunk is read in parts (its keys are none: no part to read).
func TestBackfillEmptyTable(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY, v varchar(64) NOT NULL)`)
	sink := newModelTarget(itemRequest())
	start(t, Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t), Parallelism: 4, MinRangeRows: 1}, sink)
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if sink.done < 0 {
			return fmt.Errorf("the backfill is not done")
		}
		return nil
	})
	events, _, _ := sink.get()
	if len(events) != 2 || events[0].Op != capture.OpTruncate || len(events[0].Table.Columns) != 2 ||
		events[1].Op != capture.OpCopyEnd || !events[1].Txn.CopyEnd {
		t.Fatalf("events %+v, want one truncate with the table's 2 columns, then the copy's end", events)
	}
}

// watermarksDeleted waits until the signal table is empty: a source
// deletes its watermarks once a backfill is done.
func watermarksDeleted(t *testing.T, db *sql.DB) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		var left int
		if err := db.QueryRow(`SELECT COUNT(*) FROM syncd_signal`).Scan(&left); err != nil || left != 0 {
			return fmt.Errorf("%d watermarks left in the signal table (%v)", left, err)
		}
		return nil
	})
}

// TestBackfillStringKeys: chunks page through a composite key of text
// (in a case-insensitive collation, with quotes, backslashes and
// non-ASCII letters) and binary values, by the key literals they record,
// reading every row exactly once.
func TestBackfillStringKeys(t *testing.T) {
	for _, parallelism := range []int{1, 3} {
		t.Run(fmt.Sprintf("parallelism=%d", parallelism), func(t *testing.T) { backfillStringKeys(t, parallelism) })
	}
}

// backfillStringKeys runs TestBackfillStringKeys with chunks read by
// parallelism connections at once, in parts of at least 2 rows.
func backfillStringKeys(t *testing.T, parallelism int) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE doc (name varchar(20) COLLATE utf8mb4_general_ci, tag varbinary(8), n int, PRIMARY KEY (name, tag))`,
		`INSERT INTO doc SELECT CONCAT(ELT(1 + seq % 6, 'a', 'B', 'ç', 'it''s', 'back\\slash', 'Z'), seq DIV 3), UNHEX(HEX(seq % 3)), seq FROM seq_1_to_300`)
	req := capture.SnapshotRequest{Scope: "s", Table: capture.TableID{Schema: "shop", Name: "doc"}, Truncate: true}
	rec := &recorder{snaps: []capture.SnapshotRequest{req}}
	start(t, Config{DSN: dsn, Tables: tables("shop", "doc"), Store: newStore(t), ChunkRows: 7, Parallelism: parallelism, MinRangeRows: 2}, snapshotRecorder{rec})
	rec.waitSnapshotDone(t)
	events, txns, _ := rec.get()
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
	if len(seen) != 300 || len(txns) < 300/7 {
		t.Errorf("%d rows read in %d transactions, want 300 in %d chunks or more", len(seen), len(txns), 300/7)
	}
}

func TestLiteral(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{int32(-5), "-5"},
		{int64(1) << 40, "1099511627776"},
		{uint64(18446744073709551615), "18446744073709551615"},
		{capture.Decimal("-12.50"), "-12.50"},
		{"it's", "_utf8mb4 X'69742773'"},
		{[]byte{0, 0xff}, "X'00ff'"},
	} {
		if got, ok := literal(tc.v); !ok || got != tc.want {
			t.Errorf("literal(%#v) = %q, %v, want %q", tc.v, got, ok, tc.want)
		}
	}
	for _, v := range []any{float64(1), capture.Decimal("1; DROP TABLE x"), nil} {
		if got, ok := literal(v); ok {
			t.Errorf("literal(%#v) = %q, want none", v, got)
		}
	}
}
