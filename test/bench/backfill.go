package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// backfill measures the online backfill of a table of rows rows added to
// a running scope (by SIGHUP), against the initial snapshot of the same
// table by a scope that had it from the start, in the same run; and the
// commit-to-visible lag of a table that streams meanwhile (a probe row
// every 20ms), against its lag without a backfill.
func backfill(e *env, src, dst *testenv.Postgres, bin string, rows int) []result {
	srcDSN := src.CreateDB(e, "backfill")
	log.Printf("backfill: writing %d rows", rows)
	src.Exec(e, "backfill", snapshotTable,
		fmt.Sprintf(`INSERT INTO narrow SELECT g, g %% 1000, md5(g::text), '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, %d) g`, rows),
		`VACUUM ANALYZE narrow`,
		`CREATE TABLE probe (id bigint PRIMARY KEY)`)
	config := func(dstDSN string, tables ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "source \"postgres\" \"backfill\" {\n  dsn = %q%s\n}\n", srcDSN, parallelismSetting())
		fmt.Fprintf(&b, "target \"postgres\" \"copy\" {\n  dsn = %q\n  create_tables = true\n}\n", dstDSN)
		b.WriteString("scope \"backfill\" {\n  source = \"backfill\"\n  targets = [\"copy\"]\n")
		for _, t := range tables {
			fmt.Fprintf(&b, "  table %q {}\n", "public."+t)
		}
		b.WriteString("}\n")
		return b.String()
	}

	// The initial snapshot of the table.
	initialDSN := dst.CreateDB(e, "backfill_initial")
	d := testenv.NewSyncd(e, bin, config(initialDSN, "narrow"))
	settle(e, src, dst)
	d.Start()
	initial := float64(rows) / waitLastRow(e, initialDSN, rows, 10*time.Minute).Sub(d.Started).Seconds()
	d.Stop()
	log.Printf("backfill: initial snapshot: %.0f rows/s", initial)

	// A scope streaming the probe table only: its lag without a backfill.
	addedDSN := dst.CreateDB(e, "backfill_added")
	d = testenv.NewSyncd(e, bin, config(addedDSN, "probe"))
	d.Start()
	defer d.Stop()
	src.Exec(e, "backfill", `INSERT INTO probe VALUES (0)`)
	waitRows(e, addedDSN, "SELECT count(*) FROM probe", 1, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	end := time.Now().Add(10 * time.Second)
	quiet := probe(e, ctx, srcDSN, addedDSN, 0, func() bool { return !time.Now().Before(end) })

	// The bound the machine sets on that lag: the probe's lag while
	// PostgreSQL's own initial table copy of the same table keeps the
	// same clusters busy, with syncd doing nothing but the probe.
	settle(e, src, dst)
	nativeDSN := dst.CreateDB(e, "backfill_native")
	dst.Exec(e, "backfill_native", snapshotTable)
	src.Exec(e, "backfill", `CREATE PUBLICATION native FOR TABLE narrow`)
	dst.Exec(e, "backfill_native", fmt.Sprintf(`CREATE SUBSCRIPTION backfill_native CONNECTION '%s' PUBLICATION native`, srcDSN))
	nativeDone := make(chan struct{})
	go func() { waitLastRow(e, nativeDSN, rows, 10*time.Minute); close(nativeDone) }()
	native := probe(e, ctx, srcDSN, addedDSN, int64(len(quiet)), func() bool {
		select {
		case <-nativeDone:
			return true
		default:
			return false
		}
	})
	dst.Exec(e, "backfill_native", `ALTER SUBSCRIPTION backfill_native DISABLE`)
	waitRows(e, nativeDSN, "SELECT count(*) FROM pg_stat_subscription WHERE subname = 'backfill_native' AND pid IS NULL", 1, time.Minute)
	dst.Exec(e, "backfill_native", `DROP SUBSCRIPTION backfill_native`)
	probed := int64(len(quiet) + len(native))

	// The table added: backfilled while the probe streams.
	settle(e, src, dst)
	d.Rewrite(config(addedDSN, "probe", "narrow"))
	start := time.Now()
	if err := d.Signal(syscall.SIGHUP); err != nil {
		e.Fatal(err)
	}
	finished := make(chan time.Time, 1)
	go func() { finished <- waitLastRow(e, addedDSN, rows, 10*time.Minute) }()
	// The probes in two runs: until the first backfilled row is at the
	// target, which spans the reload (syncd stops its sources and apply
	// workers, alters the publication and starts them again), and from
	// then on until the last row.
	first := make(chan struct{})
	go func() {
		waitRows(e, addedDSN, "SELECT count(*) FROM (SELECT FROM narrow LIMIT 1) n", 1, 10*time.Minute)
		close(first)
	}()
	reload := probe(e, ctx, srcDSN, addedDSN, probed, func() bool {
		select {
		case <-first:
			return true
		default:
			return false
		}
	})
	var doneAt time.Time
	copying := probe(e, ctx, srcDSN, addedDSN, probed+int64(len(reload)), func() bool {
		select {
		case doneAt = <-finished:
			return true
		default:
			return false
		}
	})
	during := append(slices.Clone(reload), copying...)
	added := float64(rows) / doneAt.Sub(start).Seconds()
	log.Printf("backfill: table added: %.0f rows/s", added)
	p99 := func(l []time.Duration) float64 {
		if len(l) == 0 {
			return 0
		}
		slices.Sort(l)
		return ms(l[len(l)*99/100])
	}
	log.Printf("backfill: probe lag p99 %.1f ms without a backfill (%d probes), %.1f ms during it (%d probes; max %.1f ms until its first row, %d probes, and p99 %.1f ms from then on, %d probes), %.1f ms during PostgreSQL's own copy of the table (%d probes)",
		p99(quiet), len(quiet), p99(during), len(during), maxMs(reload), len(reload), p99(copying), len(copying), p99(native), len(native))
	lag := ratioResult("commit-to-visible lag p99 of a streaming table during a backfill", "ms", p99(during), "ms, the same without a backfill", p99(quiet), "", 0)
	met := lag.Ratio <= 2
	lag.Goal, lag.Met = "ratio ≤ 2", &met
	return []result{
		ratioResult("backfill rows/s of a table added to a running scope", "rows/s", added, "rows/s, initial snapshot of the same table", initial, "ratio ≥ 0.80", 0.8),
		lag,
		ratioResult("lag p99 of that table from the backfill's first row at the target on (the reload before it left out)", "ms", p99(copying), "ms, the same without a backfill", p99(quiet), "", 0),
		ratioResult("bound: lag p99 of that table during PostgreSQL's own copy of the table", "ms", p99(native), "ms, the same without a copy", p99(quiet), "", 0),
	}
}

// maxMs returns the largest of l in milliseconds; 0 if l is empty.
func maxMs(l []time.Duration) float64 {
	if len(l) == 0 {
		return 0
	}
	return ms(slices.Max(l))
}
