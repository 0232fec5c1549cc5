package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/test/testenv"
)

// endToEnd measures the catch-up of a backlog of rows (inserted in
// transactions of txnRows while neither replication runs) into a target
// cluster: PostgreSQL's own logical replication (CREATE SUBSCRIPTION)
// against syncd, on the same two clusters, each from its own database.
// It returns syncd's rate with its ratio, and syncd's CPU per 100k rows.
func endToEnd(e *env, src, dst *testenv.Postgres, bin string, rows, txnRows int) (rate, cpu result) {
	// Native: a disabled subscription holds its slot while the rows arrive.
	nativeSrc := src.CreateDB(e, "native")
	src.Exec(e, "native", narrowTable, `CREATE PUBLICATION native FOR TABLE narrow`)
	dst.CreateDB(e, "native_copy")
	dst.Exec(e, "native_copy", narrowTable,
		fmt.Sprintf(`CREATE SUBSCRIPTION native CONNECTION '%s' PUBLICATION native WITH (copy_data = false, enabled = false)`, nativeSrc))

	// syncd: a first run creates its slot and snapshots the empty table.
	syncdSrc := src.CreateDB(e, "e2e")
	src.Exec(e, "e2e", narrowTable)
	syncdDst := dst.CreateDB(e, "e2e_copy")
	d := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "postgres" "e2e" { dsn = %q }
target "postgres" "copy" {
  dsn           = %q
  create_tables = true
}
scope "narrow" {
  %s
  source  = "e2e"
  targets = ["copy"]
  table "public.narrow" {}
}`, syncdSrc, syncdDst, scopeOptions()))
	d.Start()
	waitRows(e, syncdDst, "SELECT count(*) FROM syncd_scope_info", 1, time.Minute)
	d.Stop()

	log.Printf("end to end: writing %d rows in transactions of %d, twice", rows, txnRows)
	insertNarrow(e, nativeSrc, rows, txnRows)
	// Both slots are in one cluster, so they share its WAL. Move syncd's
	// slot past the native rows, as the native slot ends before syncd's:
	// each replication decodes the WAL of its own rows only.
	src.Exec(e, "e2e", `SELECT pg_replication_slot_advance('syncd_e2e', pg_current_wal_lsn())`, `CHECKPOINT`,
		`SELECT pg_replication_slot_advance('syncd_e2e', pg_current_wal_lsn())`)
	insertNarrow(e, syncdSrc, rows, txnRows)

	// Vacuum the new rows now, so that autovacuum does not do it during
	// one of the runs, and write the clusters' dirty buffers out.
	src.Exec(e, "native", `VACUUM ANALYZE narrow`)
	src.Exec(e, "e2e", `VACUUM ANALYZE narrow`)
	settle(e, src, dst)
	start := time.Now()
	dst.Exec(e, "native_copy", `ALTER SUBSCRIPTION native ENABLE`)
	native := float64(rows) / waitLastRow(e, dst.DSN("native_copy"), rows, 10*time.Minute).Sub(start).Seconds()
	dst.Exec(e, "native_copy", `ALTER SUBSCRIPTION native DISABLE`)
	log.Printf("end to end: native logical replication: %.0f rows/s", native)

	dst.Exec(e, "native_copy", `VACUUM ANALYZE narrow`)
	settle(e, src, dst)
	d.Start()
	if *cpuProfile != "" {
		go profile(d, *cpuProfile+".e2e", 10*time.Second)
	}
	syncd := float64(rows) / waitLastRow(e, syncdDst, rows, 10*time.Minute).Sub(d.Started).Seconds()
	cpuSecs := d.CPUSeconds()
	d.Stop()
	log.Printf("end to end: syncd: %.0f rows/s, %.2f CPU s per 100k rows", syncd, cpuSecs/float64(rows)*100_000)

	return ratioResult(variant("catch-up rows/s, PostgreSQL → PostgreSQL"), "rows/s", syncd, "rows/s, native logical replication", native, "ratio ≥ 0.50", 0.5),
		result{Name: "syncd CPU per 100k rows replicated", Value: cpuSecs / float64(rows) * 100_000, Unit: "CPU s"}
}

// settle writes the clusters' dirty buffers out, so that neither
// replication runs while the other's writes, or the backlog's, are
// written back.
func settle(e *env, clusters ...*testenv.Postgres) {
	for _, c := range clusters {
		c.Exec(e, "postgres", `CHECKPOINT`)
	}
}

// waitLastRow waits until table narrow at dsn holds the row with id
// last and then all rows 1 to last, and returns when it held them. Both
// appliers commit in source order, so the last row normally comes last;
// polling for it by key, not with count(*), keeps the poller from taking
// CPU from the database it watches.
func waitLastRow(e *env, dsn string, last int, timeout time.Duration) time.Time {
	waitRows(e, dsn, fmt.Sprintf("SELECT count(*) FROM narrow WHERE id = %d", last), 1, timeout)
	at := time.Now()
	waitRows(e, dsn, "SELECT count(*) FROM narrow", last, time.Minute)
	if time.Since(at) > 100*time.Millisecond {
		log.Printf("row %d arrived %v before the rows before it", last, time.Since(at).Round(time.Millisecond))
		return time.Now()
	}
	return at
}

// waitRows waits until query returns at least want.
func waitRows(e *env, dsn, query string, want int, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		e.Fatal(err)
	}
	defer conn.Close(context.Background())
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var n int
		if err := conn.QueryRow(ctx, query).Scan(&n); err == nil && n >= want {
			return
		}
		select {
		case <-ctx.Done():
			e.Fatalf("%s did not reach %d within %v", query, want, timeout)
		case <-tick.C:
		}
	}
}

// lagUnderLoad runs `pgbench -c 4` on a source that syncd replicates and,
// meanwhile, commits a probe row every 20ms and watches the target for it:
// the time from the commit returning to the row being visible at the
// target, both on this machine's clock. It does so at full load, which
// the goal is for, and then with pgbench held to 200 transactions a
// second, a light load, for half as long.
func lagUnderLoad(e *env, src, dst *testenv.Postgres, bin string, seconds int) []result {
	srcDSN := src.CreateDB(e, "lag")
	if err := src.Pgbench(context.Background(), "-i", "-s", "1", "-q", srcDSN); err != nil {
		e.Fatal(err)
	}
	src.Exec(e, "lag", `ALTER TABLE pgbench_history REPLICA IDENTITY FULL`,
		`CREATE TABLE probe (id bigint PRIMARY KEY)`)
	dstDSN := dst.CreateDB(e, "lag_copy")
	d := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "postgres" "lag" { dsn = %q }
target "postgres" "copy" {
  dsn           = %q
  create_tables = true
}
scope "bench" {
  source  = "lag"
  targets = ["copy"]
  table "public.pgbench_accounts" {}
  table "public.pgbench_branches" {}
  table "public.pgbench_tellers" {}
  table "public.pgbench_history" {}
  table "public.probe" {}
}`, srcDSN, dstDSN))
	d.Start()
	defer d.Stop()
	// Row 0 reaches the target once every snapshot is done (probe's last).
	src.Exec(e, "lag", `INSERT INTO probe VALUES (0)`)
	waitRows(e, dstDSN, "SELECT count(*) FROM probe", 1, 5*time.Minute)

	var results []result
	var stages map[string]float64 // latency sums at the last look
	last := int64(0)              // the last probe row
	for _, load := range []struct {
		name    string
		args    []string
		seconds int
		goal    bool
	}{
		{"pgbench -c 4", nil, seconds, true},
		{"pgbench -c 4 -R 200", []string{"-R", "200"}, max(seconds/2, 5), false},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(load.seconds+60)*time.Second)
		defer cancel()
		bench := make(chan error, 1)
		go func() {
			args := append([]string{"-c", "4", "-T", fmt.Sprint(load.seconds), "-n"}, load.args...)
			bench <- src.Pgbench(ctx, append(args, srcDSN)...)
		}()
		lags := probe(e, ctx, srcDSN, dstDSN, last, time.Duration(load.seconds)*time.Second)
		if err := <-bench; err != nil {
			e.Fatal(err)
		}
		last += int64(len(lags))
		stages = logStageLatency(d.AdminURL, stages)
		slices.Sort(lags)
		p50, p99 := lags[len(lags)/2], lags[len(lags)*99/100]
		log.Printf("lag under %s: %d probes, p50 %v, p99 %v", load.name, len(lags), p50, p99)
		r99 := result{Name: "commit-to-visible lag p99 under " + load.name, Value: ms(p99), Unit: "ms"}
		if load.goal {
			met := p99 <= 250*time.Millisecond
			r99.Goal, r99.Met = "p99 ≤ 250 ms", &met
		}
		results = append(results, result{Name: "commit-to-visible lag p50 under " + load.name, Value: ms(p50), Unit: "ms"}, r99)
	}
	return results
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// probe commits a row every 20ms for dur, with ids after last, and
// returns, for each, the time until the target showed it.
func probe(e *env, ctx context.Context, srcDSN, dstDSN string, last int64, dur time.Duration) []time.Duration {
	w, err := pgx.Connect(ctx, srcDSN)
	if err != nil {
		e.Fatal(err)
	}
	defer w.Close(context.Background())
	r, err := pgx.Connect(ctx, dstDSN)
	if err != nil {
		e.Fatal(err)
	}
	defer r.Close(context.Background())
	committed := map[int64]time.Time{}
	var lags []time.Duration
	next, seen := last+1, last
	end := time.Now().Add(dur)
	nextWrite := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		if now.Before(end) && !now.Before(nextWrite) {
			if _, err := w.Exec(ctx, `INSERT INTO probe VALUES ($1)`, next); err != nil {
				e.Fatal(err)
			}
			committed[next] = time.Now()
			next++
			nextWrite = nextWrite.Add(20 * time.Millisecond)
		}
		var max int64
		if err := r.QueryRow(ctx, `SELECT max(id) FROM probe`).Scan(&max); err == nil {
			at := time.Now()
			for ; seen < max; seen++ {
				lags = append(lags, at.Sub(committed[seen+1]))
			}
		}
		if !now.Before(end) && seen == next-1 {
			return lags
		}
		select {
		case <-ctx.Done():
			e.Fatalf("probe rows still missing at the target: %d of %d seen", seen, next-1)
		case <-tick.C:
		}
	}
}

// logStageLatency logs the mean of syncd's per-stage latency histograms
// since the sums were since, to tell where commit-to-visible lag is
// spent, and returns the sums now.
func logStageLatency(adminURL string, since map[string]float64) map[string]float64 {
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		log.Printf("read metrics: %v", err)
		return since
	}
	defer resp.Body.Close()
	sums := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		base, _, _ := strings.Cut(name, "{")
		if strings.HasSuffix(base, "_seconds_sum") || strings.HasSuffix(base, "_seconds_count") {
			v, _ := strconv.ParseFloat(value, 64)
			sums[base] += v
		}
	}
	for _, h := range []string{"syncd_publish_latency_seconds", "syncd_apply_txn_seconds"} {
		if n := sums[h+"_count"] - since[h+"_count"]; n > 0 {
			log.Printf("lag under load: %s mean %.1f ms over %.0f", h, 1000*(sums[h+"_sum"]-since[h+"_sum"])/n, n)
		}
	}
	return sums
}
