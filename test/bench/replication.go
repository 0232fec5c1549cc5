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
// against syncd with the scope's rows_per_message = pack, on the same two
// clusters, each from its own database. It returns syncd's rate with its
// ratio, and syncd's CPU per 100k rows. Runs with different pack values
// use databases, slots and subscriptions of their own.
func endToEnd(e *env, src, dst *testenv.Postgres, bin string, rows, txnRows, pack int) (rate, cpu result) {
	tag := ""
	if pack > 1 {
		tag = fmt.Sprintf("_p%d", pack)
	}
	native, source := "native"+tag, "e2e"+tag
	// Native: a disabled subscription holds its slot while the rows arrive.
	nativeSrc := src.CreateDB(e, native)
	src.Exec(e, native, narrowTable, `CREATE PUBLICATION native FOR TABLE narrow`)
	dst.CreateDB(e, native+"_copy")
	dst.Exec(e, native+"_copy", narrowTable,
		fmt.Sprintf(`CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION native WITH (copy_data = false, enabled = false)`, native, nativeSrc))

	// syncd: a first run creates its slot and snapshots the empty table.
	syncdSrc := src.CreateDB(e, source)
	src.Exec(e, source, narrowTable)
	syncdDst := dst.CreateDB(e, source+"_copy")
	d := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "postgres" %q { dsn = %q }
target "postgres" "copy" {
  dsn           = %q
  create_tables = true
}
scope "narrow" {
  %s
  source  = %q
  targets = ["copy"]
  table "public.narrow" {}
}`, source, syncdSrc, syncdDst, scopeOptionsFor(pack), source))
	d.Start()
	waitRows(e, syncdDst, "SELECT count(*) FROM syncd_scope_info", 1, time.Minute)
	d.Stop()

	log.Printf("end to end: writing %d rows in transactions of %d, twice", rows, txnRows)
	insertNarrow(e, nativeSrc, rows, txnRows)
	// Both slots are in one cluster, so they share its WAL. Move syncd's
	// slot past the native rows, as the native slot ends before syncd's:
	// each replication decodes the WAL of its own rows only.
	advance := fmt.Sprintf(`SELECT pg_replication_slot_advance('syncd_%s', pg_current_wal_lsn())`, source)
	src.Exec(e, source, advance, `CHECKPOINT`, advance)
	insertNarrow(e, syncdSrc, rows, txnRows)

	// Vacuum the new rows now, so that autovacuum does not do it during
	// one of the runs, and write the clusters' dirty buffers out.
	src.Exec(e, native, `VACUUM ANALYZE narrow`)
	src.Exec(e, source, `VACUUM ANALYZE narrow`)
	settle(e, src, dst)
	start := time.Now()
	dst.Exec(e, native+"_copy", fmt.Sprintf(`ALTER SUBSCRIPTION %s ENABLE`, native))
	nativeRate := float64(rows) / waitLastRow(e, dst.DSN(native+"_copy"), rows, 10*time.Minute).Sub(start).Seconds()
	dst.Exec(e, native+"_copy", fmt.Sprintf(`ALTER SUBSCRIPTION %s DISABLE`, native))
	log.Printf("end to end: native logical replication: %.0f rows/s", nativeRate)

	dst.Exec(e, native+"_copy", `VACUUM ANALYZE narrow`)
	settle(e, src, dst)
	d.Start()
	if *cpuProfile != "" {
		go profile(d, *cpuProfile+".e2e"+tag, 10*time.Second)
	}
	syncd := float64(rows) / waitLastRow(e, syncdDst, rows, 10*time.Minute).Sub(d.Started).Seconds()
	cpuSecs := d.CPUSeconds()
	d.Stop()
	log.Printf("end to end: syncd (rows_per_message = %d): %.0f rows/s, %.2f CPU s per 100k rows", pack, syncd, cpuSecs/float64(rows)*100_000)

	return ratioResult(variantFor("catch-up rows/s, PostgreSQL → PostgreSQL", pack), "rows/s", syncd, "rows/s, native logical replication", nativeRate, "ratio ≥ 0.50", 0.5),
		result{Name: variantFor("syncd CPU per 100k rows replicated", pack), Value: cpuSecs / float64(rows) * 100_000, Unit: "CPU s"}
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
// second, a light load, for half as long. Then, with syncd stopped, it
// does the same with PostgreSQL's own logical replication into another
// database of the target cluster: the baseline.
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
	// Row 0 reaches the target once every snapshot is done (probe's last).
	src.Exec(e, "lag", `INSERT INTO probe VALUES (0)`)
	waitRows(e, dstDSN, "SELECT count(*) FROM probe", 1, 5*time.Minute)

	loads := []lagLoad{
		{"pgbench -c 4", nil, seconds},
		{"pgbench -c 4 -R 200", []string{"-R", "200"}, max(seconds/2, 5)},
	}
	var stages map[string]float64 // latency sums at the last look
	last := int64(0)              // the last probe row
	syncd := make([]lagStats, len(loads))
	for i, load := range loads {
		syncd[i] = load.run(e, src, srcDSN, dstDSN, &last)
		stages = logStageLatency(d.AdminURL, stages)
		log.Printf("lag under %s, syncd: p50 %v, p99 %v", load.name, syncd[i].p50, syncd[i].p99)
	}
	d.Stop()

	// Native: a subscription into a copy made the way the source was
	// (pgbench -i is deterministic), from the source's current WAL on.
	nativeDSN := dst.CreateDB(e, "lag_native")
	if err := dst.Pgbench(context.Background(), "-i", "-s", "1", "-q", nativeDSN); err != nil {
		e.Fatal(err)
	}
	dst.Exec(e, "lag_native", `CREATE TABLE probe (id bigint PRIMARY KEY)`)
	src.Exec(e, "lag", `CREATE PUBLICATION lag_native FOR TABLE `+pgbenchTables+`, probe`)
	dst.Exec(e, "lag_native", fmt.Sprintf(`CREATE SUBSCRIPTION lag_native CONNECTION '%s' PUBLICATION lag_native WITH (copy_data = false)`, srcDSN))
	defer func() {
		// Disabled first, so that its worker ends by itself: dropped
		// while the worker ran, the next part's native worker started
		// about 5 s late (wal_retrieve_retry_interval) with -quick.
		dst.Exec(e, "lag_native", `ALTER SUBSCRIPTION lag_native DISABLE`)
		waitRows(e, nativeDSN, "SELECT count(*) FROM pg_stat_subscription WHERE subname = 'lag_native' AND pid IS NULL", 1, time.Minute)
		dst.Exec(e, "lag_native", `DROP SUBSCRIPTION lag_native`)
	}()
	last++
	src.Exec(e, "lag", fmt.Sprintf(`INSERT INTO probe VALUES (%d)`, last))
	waitRows(e, nativeDSN, "SELECT count(*) FROM probe", 1, time.Minute)

	var results []result
	for i, load := range loads {
		native := load.run(e, src, srcDSN, nativeDSN, &last)
		log.Printf("lag under %s, native logical replication: p50 %v, p99 %v", load.name, native.p50, native.p99)
		name := "commit-to-visible lag %s under " + load.name
		base := "ms, native logical replication"
		p99 := ratioResult(fmt.Sprintf(name, "p99"), "ms", ms(syncd[i].p99), base, ms(native.p99), "", 0)
		if i == 0 {
			met := syncd[i].p99 <= 250*time.Millisecond
			p99.Goal, p99.Met = "p99 ≤ 250 ms", &met
		}
		results = append(results, ratioResult(fmt.Sprintf(name, "p50"), "ms", ms(syncd[i].p50), base, ms(native.p50), "", 0), p99)
	}
	return results
}

// lagLoad is a pgbench run, with its arguments besides -c 4 -T seconds.
type lagLoad struct {
	name    string
	args    []string
	seconds int
}

// lagStats are percentiles of commit-to-visible lag.
type lagStats struct{ p50, p99 time.Duration }

// run runs the load on the source while probing the target at dstDSN
// with probe rows after *last, which it moves to the last one written.
func (l lagLoad) run(e *env, src *testenv.Postgres, srcDSN, dstDSN string, last *int64) lagStats {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(l.seconds+60)*time.Second)
	defer cancel()
	bench := make(chan error, 1)
	go func() {
		args := append([]string{"-c", "4", "-T", fmt.Sprint(l.seconds), "-n"}, l.args...)
		bench <- src.Pgbench(ctx, append(args, srcDSN)...)
	}()
	end := time.Now().Add(time.Duration(l.seconds) * time.Second)
	lags := probe(e, ctx, srcDSN, dstDSN, *last, func() bool { return !time.Now().Before(end) })
	if err := <-bench; err != nil {
		e.Fatal(err)
	}
	*last += int64(len(lags))
	slices.Sort(lags)
	return lagStats{p50: lags[len(lags)/2], p99: lags[len(lags)*99/100]}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// probe commits a row every 20ms until done reports true, with ids after
// last, and returns, for each, the time until the target showed it.
func probe(e *env, ctx context.Context, srcDSN, dstDSN string, last int64, done func() bool) []time.Duration {
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
	nextWrite := time.Now()
	writing := true
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		if writing = writing && !done(); writing && !now.Before(nextWrite) {
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
		if !writing && seen == next-1 {
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
