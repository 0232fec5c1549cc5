package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestKillDuringWorkload kills syncd with SIGKILL three times while
// 100,000 rows are written in 100 transactions, each time right after the
// slot's confirmed position moved (when a confirmation of anything not yet
// stored would lose it), restarts it, and checks that the stream ends with
// every row exactly once: nothing lost, nothing published twice despite
// the replays after each kill.
func TestKillDuringWorkload(t *testing.T) {
	const txns, rowsPerTxn = 100, 1000
	const total = txns * rowsPerTxn
	pg := testenv.StartPostgres(t)
	dsn, d := oneScope(t, pg, `CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL, n int NOT NULL)`, "all", "public.events")
	d.Start()
	conn := pgConnect(t, dsn)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	written := make(chan error, 1)
	go func() { written <- writeEvents(ctx, dsn, txns, rowsPerTxn) }()

	nc := connect(t, d)
	for _, at := range []uint64{15_000, 40_000, 70_000} {
		testenv.Eventually(t, 2*time.Minute, 20*time.Millisecond, func() error {
			n, err := streamCount(t, nc, "all")
			if err != nil || n < at {
				return fmt.Errorf("stream holds %d messages (%v), waiting for %d", n, err, at)
			}
			return nil
		})
		killAfterConfirm(t, conn, d)
		d.Start()
		nc = connect(t, d)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	// Once syncd confirmed the end of the workload, the stream must hold
	// every row: anything missing now was lost.
	waitConfirmed(t, conn, currentLSN(t, conn), 3*time.Minute)
	msgs := readStream(t, nc, "all")
	seen := make(map[string]bool, total)
	ids := make(map[string]bool, total)
	for _, m := range msgs {
		id := m.Header.Get("Nats-Msg-Id")
		if seen[id] {
			t.Fatalf("message id %s stored twice", id)
		}
		seen[id] = true
		if m.Env.Op != "c" {
			t.Fatalf("unexpected op %s in %s", m.Env.Op, m.Data)
		}
		ids[fmt.Sprint(m.Env.After["id"])] = true
	}
	var missing []int
	for i := 1; i <= total; i++ {
		if !ids[strconv.Itoa(i)] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 || len(msgs) != total {
		t.Fatalf("stream holds %d messages for %d rows; %d rows missing, first %v", len(msgs), total, len(missing), missing[:min(len(missing), 10)])
	}
}

// killAfterConfirm kills syncd as soon as the slot's confirmed position
// moves.
func killAfterConfirm(t *testing.T, conn *pgx.Conn, d *testenv.Syncd) {
	t.Helper()
	first := confirmedLSN(t, conn)
	testenv.Eventually(t, time.Minute, 2*time.Millisecond, func() error {
		if confirmedLSN(t, conn) == first {
			return fmt.Errorf("confirmed position still %s", first)
		}
		return nil
	})
	d.Kill()
	t.Logf("killed syncd right after it confirmed past %s", first)
}

func confirmedLSN(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var lsn string
	err := conn.QueryRow(context.Background(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'syncd_app'").Scan(&lsn)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

func currentLSN(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var lsn string
	if err := conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	return lsn
}

// waitConfirmed waits until the slot has confirmed lsn.
func waitConfirmed(t *testing.T, conn *pgx.Conn, lsn string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, 100*time.Millisecond, func() error {
		var past bool
		err := conn.QueryRow(context.Background(), "SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = 'syncd_app'", lsn).Scan(&past)
		if err != nil {
			return err
		}
		if !past {
			return fmt.Errorf("slot has not confirmed %s (at %s)", lsn, confirmedLSN(t, conn))
		}
		return nil
	})
}

// writeEvents inserts ids 1..txns*rows, rows per transaction.
func writeEvents(ctx context.Context, dsn string, txns, rows int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for i := range txns {
		first := i*rows + 1
		_, err := conn.Exec(ctx, `INSERT INTO events SELECT g, md5(g::text), $3 FROM generate_series($1::bigint, $2::bigint) g`, first, first+rows-1, i)
		if err != nil {
			return fmt.Errorf("insert transaction %d: %w", i, err)
		}
	}
	return nil
}

// TestIdleTableDoesNotPinWAL publishes a table nobody writes while an
// unpublished table churns: the slot's confirmed position must follow the
// server's WAL, so the idle slot does not hold WAL back.
func TestIdleTableDoesNotPinWAL(t *testing.T) {
	pg := testenv.StartPostgres(t, testenv.WithSetting("wal_sender_timeout", "6s"))
	dsn, d := oneScope(t, pg, `CREATE TABLE quiet (id int PRIMARY KEY); CREATE TABLE busy (id serial PRIMARY KEY, v text)`, "quiet", "public.quiet")
	d.Start()

	conn := pgConnect(t, dsn)
	ctx := context.Background()
	for range 200 {
		if _, err := conn.Exec(ctx, `INSERT INTO busy (v) SELECT md5(g::text) FROM generate_series(1, 100) g`); err != nil {
			t.Fatal(err)
		}
	}
	waitConfirmed(t, conn, currentLSN(t, conn), 90*time.Second)
}
