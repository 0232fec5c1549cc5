package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestBackfillResumesAfterKill: a table of 500,000 rows is added by
// SIGHUP to a scope whose other table streams under a writer that also
// updates and deletes rows of the table being added. syncd is killed
// (SIGKILL) halfway through the backfill and started again: the backfill
// resumes after its last chunk recorded instead of from the start, and
// both tables end up equal at source and target. (This is issue 18's
// test 3; it replaced a test of the one-transaction copy, whose cut copy
// targets never showed: a backfill's chunks show as they come.)
//
// The target's scope_info row follows the copies: stream's initial copy
// done with the rows the source sent, big's running while it is copied
// and done once it is whole (backfill, backfill_table, backfill_rows).
func TestBackfillResumesAfterKill(t *testing.T) {
	const bigRows = 500_000
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", `CREATE TABLE stream (id serial PRIMARY KEY, v text NOT NULL)`,
			`CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, v text NOT NULL)`,
			fmt.Sprintf(`INSERT INTO big SELECT g, g %% 1000, md5(g::text) FROM generate_series(1, %d) g`, bigRows),
			`ANALYZE big`)
	}, `scope "s" {
  source  = "app"
  targets = ["replica"]
  table "public.stream" {}
}`)
	r.d.Start()
	src, err := sql.Open("pgx", r.srcDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	written := make(chan error, 1)
	go func() {
		rnd := rand.New(rand.NewPCG(7, 8))
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				written <- nil
				return
			case <-tick.C:
			}
			var err error
			switch id := 1 + rnd.IntN(bigRows); rnd.IntN(4) {
			case 0:
				_, err = src.ExecContext(ctx, `UPDATE big SET v = 'changed', n = n + 1 WHERE id = $1`, id)
			case 1:
				_, err = src.ExecContext(ctx, `DELETE FROM big WHERE id = $1`, id)
			default:
				_, err = src.ExecContext(ctx, `INSERT INTO stream (v) VALUES ('live')`)
			}
			if err != nil && ctx.Err() == nil {
				written <- err
				return
			}
		}
	}()
	stopWriter := func() {
		cancel()
		if err := <-written; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	defer func() {
		if ctx.Err() == nil {
			stopWriter()
		}
	}()
	// stream streams: the writer keeps inserting, so compare the rows up to
	// the source's last id at this moment (stream only gets inserts).
	var last int64
	if err := src.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM stream`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	upTo := []string{fmt.Sprintf(`SELECT * FROM stream WHERE id <= %d ORDER BY id`, last)}
	waitIdentical(t, r, time.Minute, upTo, upTo)
	// The log's JSON entries about a table's copy.
	entries := func(message, table string) []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(r.d.Logs(), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil && e["@message"] == message && e["table"] == table {
				out = append(out, e)
			}
		}
		return out
	}
	dst := pgConnect(t, r.dstDSN)
	// waitCopy waits until scope_info says state of table, and returns
	// backfill_rows.
	waitCopy := func(state, table string, timeout time.Duration) (rows int64) {
		t.Helper()
		testenv.Eventually(t, timeout, 20*time.Millisecond, func() error {
			var got, tbl string
			err := dst.QueryRow(context.Background(), `SELECT backfill, backfill_table, backfill_rows FROM syncd_scope_info WHERE scope = 's'`).Scan(&got, &tbl, &rows)
			if err != nil || got != state || tbl != table || state == "running" && rows == 0 {
				return fmt.Errorf("scope_info says backfill %q of %q, %d rows (%v); want %s of %s", got, tbl, rows, err, state, table)
			}
			return nil
		})
		return rows
	}
	if rows, done := waitCopy("done", "public.stream", 10*time.Second), entries("snapshot done", "public.stream"); len(done) != 1 || done[0]["rows"] != float64(rows) {
		t.Errorf("scope_info says stream's copy applied %d rows; the source's copies of it: %v", rows, done)
	}

	writeFile(t, r.d.ConfigPath, strings.Replace(readFile(t, r.d.ConfigPath), `table "public.stream" {}`, `table "public.stream" {}
  table "public.big" {}`, 1))
	if err := r.d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitCopy("running", "public.big", 2*time.Minute)
	// Killed once a third of big is sent, by the source's progress.
	testenv.Eventually(t, 2*time.Minute, 20*time.Millisecond, func() error {
		_, body := getStatus(t, r.d.AdminURL+"/scopes")
		var st struct {
			Sources []struct {
				Status struct {
					Snapshot *struct {
						Table string `json:"table"`
						Rows  int    `json:"rows"`
					} `json:"snapshot"`
				} `json:"status"`
			} `json:"sources"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Sources) == 0 {
			return fmt.Errorf("/scopes: %v: %s", err, body)
		}
		if sn := st.Sources[0].Status.Snapshot; sn == nil || sn.Table != "public.big" || sn.Rows < bigRows/3 {
			return fmt.Errorf("backfill progress %+v", sn)
		}
		return nil
	})
	r.d.Kill()
	r.d.Start()
	testenv.Eventually(t, 3*time.Minute, 200*time.Millisecond, func() error {
		if len(entries("snapshot done", "public.big")) == 0 {
			return fmt.Errorf("the backfill of big is not done")
		}
		return nil
	})
	var resumedAt float64 = -1
	for _, e := range entries("backfill started", "public.big") {
		if e["resumed"] == true {
			resumedAt, _ = e["rows_so_far"].(float64)
		}
	}
	if resumedAt < bigRows/4 { // recorded a chunk or two after it was sent
		t.Errorf("the restarted daemon resumed the backfill after %v rows (-1: it did not resume); %d were sent before the kill; backfills started: %v", resumedAt, bigRows/3, entries("backfill started", "public.big"))
	}
	stopWriter()
	waitIdentical(t, r, 2*time.Minute,
		[]string{`SELECT * FROM stream ORDER BY id`, `SELECT * FROM big ORDER BY id`},
		[]string{`SELECT * FROM stream ORDER BY id`, `SELECT * FROM big ORDER BY id`})
	// Chunks sent after the last one recorded are sent again after the
	// kill: the target applies them twice, the source counts them from
	// the state recorded.
	done := entries("snapshot done", "public.big")
	if rows := waitCopy("done", "public.big", 10*time.Second); len(done) == 0 || float64(rows) < done[0]["rows"].(float64) {
		t.Errorf("scope_info says big's copy applied %d rows; the source sent %v", rows, done)
	}

	// Each table's copy began with one truncate: stream's, finished before
	// the kill, and big's, cut by it, were not started again.
	stream := openStream(t, r.d, "SYNCD_S")
	for _, table := range []string{"stream", "big"} {
		subject := "syncd.s.app.public." + table + ".t"
		info, err := stream.Info(context.Background(), jetstream.WithSubjectFilter(subject))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects[subject]; n != 1 {
			t.Errorf("%s was truncated %d times, want once", table, n)
		}
	}
}
