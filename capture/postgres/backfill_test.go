package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// modelTarget applies a source's events to one table held in memory,
// keyed by its first column, as a target of one scope would: reads and
// inserts upsert, updates write the values given (an update that leaves
// values out of a row the target lacks is an error, as apply rejects it),
// deletes delete, truncates empty. Like the router, it drops, while the
// backfill is open, updates that leave values out. It takes one snapshot
// request and records its state.
type modelTarget struct {
	recorder
	req capture.SnapshotRequest

	mu       sync.Mutex
	rows     map[int32]capture.Row
	open     bool  // the backfill's first event has come, SnapshotDone not yet
	done     int64 // rows SnapshotDone recorded; -1 until then
	states   int   // SnapshotProgressed calls
	problems []string
	hold     chan struct{} // if set, the first snapshot read waits for it to close
	held     chan struct{} // closed when the first snapshot read waits
}

func newModelTarget(req capture.SnapshotRequest) *modelTarget {
	return &modelTarget{req: req, rows: make(map[int32]capture.Row), done: -1}
}

func (m *modelTarget) Change(ctx context.Context, ev *capture.Event) error {
	if ev.Op == capture.OpRead && m.hold != nil {
		close(m.held)
		select {
		case <-m.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
		m.hold = nil
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
	case capture.OpUpdate:
		id := ev.After[0].(int32)
		old, ok := m.rows[id]
		if ev.Before != nil && ev.Before[0] != capture.Absent && ev.Before[0] != ev.After[0] {
			old, ok = m.rows[ev.Before[0].(int32)] // a key change moves the row
			delete(m.rows, ev.Before[0].(int32))
		}
		if !capture.HasAbsent(ev.After) {
			m.rows[id] = clone(ev.After)
			break
		}
		if m.open {
			break // dropped: the backfill reads the row again
		}
		if !ok {
			m.problems = append(m.problems, fmt.Sprintf("update of missing row %d leaves values out", id))
			break
		}
		row := clone(old)
		for i, v := range ev.After {
			if v != capture.Absent {
				row[i] = v
			}
		}
		m.rows[id] = row
	}
	return nil
}

func (m *modelTarget) Snapshots() []capture.SnapshotRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done >= 0 {
		return nil
	}
	return []capture.SnapshotRequest{m.req}
}

func (m *modelTarget) SnapshotDone(_ context.Context, _ capture.SnapshotRequest, rows int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done, m.open = rows, false
	return nil
}

func (m *modelTarget) SnapshotProgressed(context.Context, capture.SnapshotRequest, []byte, int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states++
	return nil
}

func (m *modelTarget) Resnapshot(context.Context, error) error { return nil }

// converged returns nil once the model holds exactly the rows of item.
func (m *modelTarget) converged(ctx context.Context, conn *pgx.Conn) error {
	return m.convergedWith(ctx, conn, "item")
}

// convergedWith returns nil once the model holds exactly the rows of table.
func (m *modelTarget) convergedWith(ctx context.Context, conn *pgx.Conn, table string) error {
	rows, err := conn.Query(ctx, `SELECT id, v, big FROM `+table+` ORDER BY id`)
	if err != nil {
		return err
	}
	want, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		ID  int32
		V   *string
		Big *string
	}])
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.problems) > 0 {
		return fmt.Errorf("the target could not apply: %v", m.problems)
	}
	if m.done < 0 {
		return fmt.Errorf("the backfill is not done")
	}
	if len(want) != len(m.rows) {
		return fmt.Errorf("the target has %d rows, the source %d", len(m.rows), len(want))
	}
	str := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	for _, w := range want {
		got, ok := m.rows[w.ID]
		if !ok {
			return fmt.Errorf("row %d is missing at the target", w.ID)
		}
		if got[1] != str(w.V) || got[2] != str(w.Big) {
			return fmt.Errorf("row %d differs: target v=%v, source v=%v", w.ID, got[1], str(w.V))
		}
	}
	return nil
}

func startItemSource(t *testing.T, dsn string, sink capture.Sink) {
	t.Helper()
	src := newTablesSource(t, dsn, "item")
	if err := src.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	runSource(t, src, sink)
}

func newTablesSource(t *testing.T, dsn string, tables ...string) *Source {
	t.Helper()
	var specs []capture.TableSpec
	for _, name := range tables {
		specs = append(specs, capture.TableSpec{ID: capture.TableID{Schema: "public", Name: name}})
	}
	src, err := New(Config{Name: "app", DSN: dsn, Slot: "s", Publication: "p", Tables: specs, ChunkRows: 500, MinRangeRows: 100}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func runSource(t *testing.T, src *Source, sink capture.Sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- src.Run(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != context.Canceled {
			t.Errorf("source ended with %v", err)
		}
	})
}

const itemTable = `CREATE TABLE item (id int PRIMARY KEY, v text, big text);
ALTER TABLE item ALTER big SET STORAGE EXTERNAL;
INSERT INTO item SELECT g, md5(g::text), repeat(md5(g::text), 100) FROM generate_series(1, 5000) g`

// TestBackfillUnderWrites: a table backfilled in chunks while a writer
// updates (also leaving its TOASTed column unchanged, which the stream
// then leaves out), deletes, inserts and re-keys rows all over it ends
// up, at a target applying the stream, equal to the source: no row lost,
// none stale, none applied without its values. The chunk rows that the
// writes touched in a chunk's window must give way to the writes.
func TestBackfillUnderWrites(t *testing.T) {
	for _, parallelism := range []int{1, 4} {
		t.Run(fmt.Sprintf("parallelism=%d", parallelism), func(t *testing.T) { backfillUnderWrites(t, parallelism) })
	}
}

// backfillUnderWrites runs TestBackfillUnderWrites with each chunk read
// by parallelism connections at once, each a part of its key range (at
// least 100 rows) in a snapshot of its own: the window rule must hold for
// every part. The chunks must be read in that many parts.
func backfillUnderWrites(t *testing.T, parallelism int) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", itemTable)
	sink := newModelTarget(capture.SnapshotRequest{Scope: "items", Table: capture.TableID{Schema: "public", Name: "item"}, Truncate: true})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	logs := runLogged(t, Config{DSN: dsn, ChunkRows: 500, Parallelism: parallelism, MinRangeRows: 100,
		Tables: []capture.TableSpec{{ID: capture.TableID{Schema: "public", Name: "item"}}}}, sink)

	// Write until the backfill is done, and a little after.
	rng := rand.New(rand.NewPCG(1, 2))
	writes, after := 0, 0
	for after < 50 {
		id := 1 + rng.IntN(5500)
		var q string
		switch rng.IntN(5) {
		case 0, 1:
			q = fmt.Sprintf(`UPDATE item SET v = md5(random()::text) WHERE id = %d`, id) // big unchanged: left out
		case 2:
			q = fmt.Sprintf(`UPDATE item SET big = repeat(md5(random()::text), 100) WHERE id = %d`, id)
		case 3:
			q = fmt.Sprintf(`DELETE FROM item WHERE id = %d`, id)
		default:
			q = fmt.Sprintf(`INSERT INTO item VALUES (%d, 'new', repeat('x', 3000)) ON CONFLICT (id) DO UPDATE SET v = 'upserted'`, 5000+rng.IntN(1000))
		}
		if rng.IntN(20) == 0 {
			q = fmt.Sprintf(`UPDATE item SET id = %d WHERE id = %d`, 10000+writes, id)
		}
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
		writes++
		sink.mu.Lock()
		if sink.done >= 0 {
			after++
		}
		sink.mu.Unlock()
	}
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error { return sink.converged(ctx, conn) })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	// A state per chunk but the last, which the backfill's end records.
	// (Counted from the log: a chunk also sends the rows to read again
	// that updates leaving the TOASTed column out ask for, up to 500
	// more than its range's, so rows sent do not say how many chunks.)
	if want := strings.Count(logs.String(), "backfill chunk") - 1; sink.states < want || want < 1 {
		t.Errorf("%d chunk states recorded for %d chunks, want one per chunk but the last (%d)", sink.states, want+1, want)
	}
	t.Logf("%d writes, backfill sent %d rows in %d chunks", writes, sink.done, sink.states)
	if want := fmt.Sprintf("parts=%d ", parallelism); !strings.Contains(logs.String(), want) {
		t.Errorf("no chunk was read in %d parts:\n%s", parallelism, logs.String())
	}
}

// TestBackfillCommittedNotVisible: a transaction whose commit is in the
// WAL, and so streamed, before a chunk's low watermark, but which is not
// yet visible when the chunk is read (here: waiting for a synchronous
// standby that never answers), must not have its row overwritten by the
// older value the chunk read.
func TestBackfillCommittedNotVisible(t *testing.T) {
	dsn := itemsWithSilentStandby(t)
	sink := newModelTarget(capture.SnapshotRequest{Scope: "items", Table: capture.TableID{Schema: "public", Name: "item"}, Truncate: true})
	sink.hold, sink.held = make(chan struct{}), make(chan struct{})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	startItemSource(t, dsn, sink)

	// While the first chunk is held, row 1500 (second or third chunk)
	// is updated by a transaction that commits locally and then waits
	// for the standby: it is in the WAL, not yet visible.
	<-sink.held
	release := commitInvisible(t, conn, dsn, `UPDATE item SET v = 'committed' WHERE id = 1500`)
	close(sink.hold)
	// Chunks 1 to 3 (ids 1 to 1500) read while the update is not visible.
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if sink.states < 4 {
			return fmt.Errorf("%d chunks done", sink.states)
		}
		return nil
	})
	release() // the update becomes visible
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error { return sink.converged(ctx, conn) })
}

// itemsWithSilentStandby returns the DSN of a database holding the item
// table on a server whose synchronous standby never answers, where
// sessions commit locally unless they ask for synchronous_commit (see
// commitInvisible).
func itemsWithSilentStandby(t *testing.T) string {
	t.Helper()
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", itemTable,
		`ALTER SYSTEM SET synchronous_standby_names = 'nobody'`,
		`ALTER DATABASE app SET synchronous_commit = local`,
		`SELECT pg_reload_conf()`)
	return dsn
}

// commitInvisible runs sql, in a database whose synchronous standby
// never answers, in a transaction that commits locally and then waits for
// the standby: it is in the WAL, and streamed, but not visible. It
// returns once the transaction waits; release makes it visible.
func commitInvisible(t *testing.T, conn *pgx.Conn, dsn, sql string) (release func()) {
	t.Helper()
	ctx := context.Background()
	waiter, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { waiter.Close(ctx) })
	var pid int
	if err := waiter.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, `SET synchronous_commit = on; BEGIN; `+sql+`; COMMIT`)
		committed <- err
	}()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		var waiting bool
		err := conn.QueryRow(ctx, `SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&waiting)
		if err != nil || !waiting {
			return fmt.Errorf("the transaction does not wait for the standby yet (%v)", err)
		}
		return nil
	})
	return func() {
		t.Helper()
		if _, err := conn.Exec(ctx, `SELECT pg_cancel_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		if err := <-committed; err != nil { // a warning: the transaction has committed locally
			t.Fatal(err)
		}
	}
}

// TestBackfillCommittedNotVisibleBeforeTruncate: a transaction whose
// commit is in the WAL before the first chunk's low watermark, and so
// before the backfill's truncate, but which is not yet visible when the
// first chunk is read. The sink drops its changes (the truncate would
// empty them away), and the chunk cannot see them: its rows must be read
// again once it is visible, or they are lost: here an update of a row of
// the first chunk (leaving no value out, which would have it read again
// anyway), a delete, and an insert after the table's last row.
func TestBackfillCommittedNotVisibleBeforeTruncate(t *testing.T) {
	dsn := itemsWithSilentStandby(t)
	sink := newModelTarget(capture.SnapshotRequest{Scope: "items", Table: capture.TableID{Schema: "public", Name: "item"}, Truncate: true})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	src := newTablesSource(t, dsn, "item")
	if err := src.Prepare(ctx); err != nil { // the slot, before the transaction
		t.Fatal(err)
	}

	// The transaction is in the WAL, not visible. Then the backfill starts.
	release := commitInvisible(t, conn, dsn, `UPDATE item SET v = 'committed', big = 'new big' WHERE id = 100;
DELETE FROM item WHERE id = 200;
INSERT INTO item VALUES (9000, 'inserted', 'b')`)
	runSource(t, src, sink)
	// The whole range (10 chunks of 500 rows, and an empty one) is read
	// while the transaction is not visible: then the backfill is done, or
	// waits to read its rows again.
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if sink.done < 0 && sink.states < 12 {
			return fmt.Errorf("%d chunks done", sink.states)
		}
		return nil
	})
	release()
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error { return sink.converged(ctx, conn) })
}

// TestPublicationAddWaitsForWriters: a table added to the publication
// while a transaction that wrote to it is still open. Its write, which
// the backfill cannot see and the stream would decode as of before the
// table was published, must still reach the target: adding the table
// waits for its writers.
func TestPublicationAddWaitsForWriters(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", itemTable, `CREATE TABLE extra (LIKE item INCLUDING ALL)`,
		`INSERT INTO extra SELECT g, md5(g::text), 'b' FROM generate_series(1, 10) g`)
	ctx := context.Background()
	if err := newTablesSource(t, dsn, "item").Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	writer, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close(ctx)
	tx, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO extra VALUES (100, 'in flight', 'b')`); err != nil {
		t.Fatal(err)
	}

	src := newTablesSource(t, dsn, "item", "extra")
	prepared := make(chan error, 1)
	go func() { prepared <- src.Prepare(ctx) }()
	var waited bool
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		select {
		case err := <-prepared:
			prepared <- err
			return nil
		default:
		}
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_locks WHERE relation = 'extra'::regclass AND NOT granted)`).Scan(&waited)
		if err != nil || !waited {
			return fmt.Errorf("adding the table neither waits nor is done (%v)", err)
		}
		return nil
	})
	sink := newModelTarget(capture.SnapshotRequest{Scope: "x", Table: capture.TableID{Schema: "public", Name: "extra"}, Truncate: true})
	if waited {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-prepared; err != nil {
		t.Fatal(err)
	}
	runSource(t, src, sink)
	if !waited { // the old way: the writer commits after the backfill
		testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if sink.done < 0 {
				return fmt.Errorf("the backfill is not done")
			}
			return nil
		})
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error { return sink.convergedWith(ctx, conn, "extra") })
}

// chunkCounter is a modelTarget that also counts the rows of each
// snapshot transaction, in order, and notes how many had come when the
// first streamed change did.
type chunkCounter struct {
	*modelTarget
	cmu      sync.Mutex
	txn      *capture.Txn
	chunks   []int
	streamed int // len(chunks) when the first streamed change came; -1 before
}

func (c *chunkCounter) Change(ctx context.Context, ev *capture.Event) error {
	c.cmu.Lock()
	switch {
	case ev.Op == capture.OpRead:
		if ev.Txn != c.txn {
			c.txn = ev.Txn
			c.chunks = append(c.chunks, 0)
		}
		c.chunks[len(c.chunks)-1]++
	case !ev.Txn.Snapshot && c.streamed < 0:
		c.streamed = len(c.chunks)
	}
	c.cmu.Unlock()
	return c.modelTarget.Change(ctx, ev)
}

// TestBackfillSmallChunksWhileStreaming: with the default chunk size, a
// backfill reads a first chunk of streamingChunkRows (its session may not
// know yet whether its source streams), then chunks of defaultChunkRows
// while nothing else streams, and of streamingChunkRows once changes
// stream, also when they come several chunks apart (within
// capture.StreamingWindow), so that each waits behind a small chunk at
// the targets; the target still converges.
func TestBackfillSmallChunksWhileStreaming(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", `CREATE TABLE item (id int PRIMARY KEY, v text, big text);
INSERT INTO item SELECT g, md5(g::text), md5(g::text) FROM generate_series(1, 40000) g`)
	sink := &chunkCounter{modelTarget: newModelTarget(capture.SnapshotRequest{Scope: "items", Table: capture.TableID{Schema: "public", Name: "item"}, Truncate: true}), streamed: -1}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	src, err := New(Config{Name: "app", DSN: dsn, Slot: "s", Publication: "p", Tables: []capture.TableSpec{{ID: capture.TableID{Schema: "public", Name: "item"}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	runSource(t, src, sink)

	// Once two chunks are out, stream a change every 200ms, far more
	// than a chunk's time apart, until the backfill is done.
	testenv.Eventually(t, 60*time.Second, 5*time.Millisecond, func() error {
		sink.cmu.Lock()
		defer sink.cmu.Unlock()
		if len(sink.chunks) < 2 {
			return fmt.Errorf("%d chunks so far", len(sink.chunks))
		}
		return nil
	})
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		sink.mu.Lock()
		done := sink.done >= 0
		sink.mu.Unlock()
		if done {
			break
		}
		if _, err := conn.Exec(ctx, `UPDATE item SET v = md5(random()::text) WHERE id = $1`, 1+i%100); err != nil {
			t.Fatal(err)
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the backfill did not finish within 60s")
		}
	}
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error { return sink.converged(ctx, conn) })
	sink.cmu.Lock()
	defer sink.cmu.Unlock()
	if len(sink.chunks) < 2 || sink.chunks[0] != streamingChunkRows || sink.chunks[1] != defaultChunkRows {
		t.Fatalf("chunks of %v rows, want a first one of %d and a second one of %d", sink.chunks, streamingChunkRows, defaultChunkRows)
	}
	// The chunk read when the first change came may be a large one; none
	// after it.
	after := sink.chunks[min(len(sink.chunks), sink.streamed+1):]
	for _, n := range after {
		if n > streamingChunkRows {
			t.Fatalf("chunks of %v rows, the first change streamed after %d of them: want none of more than %d after the next", sink.chunks, sink.streamed, streamingChunkRows)
		}
	}
	if len(after) < 3 {
		t.Fatalf("chunks of %v rows, the first change streamed after %d of them: want 3 or more after the next", sink.chunks, sink.streamed)
	}
	t.Logf("chunks of %v rows, the first change streamed after %d of them", sink.chunks, sink.streamed)
}
