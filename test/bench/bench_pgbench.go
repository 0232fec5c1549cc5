package main

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/test/testenv"
)

// pgbenchTables are the tables `pgbench -i` creates.
const pgbenchTables = "pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history"

// accountsChecksum is an order-free checksum of pgbench_accounts, the
// table pgbench's transactions update at random.
const accountsChecksum = `SELECT coalesce(sum(hashtextextended(aid::text || ':' || abalance::text, 0)), 0)::text FROM pgbench_accounts`

// pgbenchCatchUp measures the catch-up of an update-heavy backlog, txns
// pgbench (TPC-B-like) transactions from 4 clients on a `pgbench -i -s
// scale` database written while neither replication runs, into two
// databases of dst: PostgreSQL's own logical replication (CREATE
// SUBSCRIPTION) and syncd (snapshot = "never"), one after the other, both
// from the same source database and so the same WAL. Both targets start
// from their own `pgbench -i -s scale`, which is deterministic and equal
// to the source's initial data. Each is caught up when its pgbench_history
// count and pgbench_accounts checksum equal the source's.
// It returns syncd's rate in source transactions per second with its ratio.
func pgbenchCatchUp(e *env, src, dst *testenv.Postgres, bin string, scale, txns int) result {
	ctx := context.Background()
	srcDSN := src.CreateDB(e, "pgbench")
	nativeDSN := dst.CreateDB(e, "pgbench_native")
	syncdDSN := dst.CreateDB(e, "pgbench_syncd")
	log.Printf("pgbench: initializing scale %d on the source and both targets", scale)
	for _, db := range []struct {
		pg  *testenv.Postgres
		dsn string
	}{{src, srcDSN}, {dst, nativeDSN}, {dst, syncdDSN}} {
		if err := db.pg.Pgbench(ctx, "-i", "-s", strconv.Itoa(scale), "-q", db.dsn); err != nil {
			e.Fatal(err)
		}
	}
	src.Exec(e, "pgbench", `ALTER TABLE pgbench_history REPLICA IDENTITY FULL`,
		`CREATE PUBLICATION pgbench_native FOR TABLE `+pgbenchTables)
	// Native: a disabled subscription holds its slot while the backlog arrives.
	dst.Exec(e, "pgbench_native",
		fmt.Sprintf(`CREATE SUBSCRIPTION pgbench_native CONNECTION '%s' PUBLICATION pgbench_native WITH (copy_data = false, enabled = false)`, srcDSN))

	// syncd: a first run creates its slot (with snapshot = "never" it
	// writes nothing at the target until a change arrives).
	d := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "postgres" "pgbench" { dsn = %q }
target "postgres" "copy" {
  dsn           = %q
  create_tables = true
}
scope "pgbench" {
  source   = "pgbench"
  targets  = ["copy"]
  snapshot = "never"
  table "public.pgbench_accounts" {}
  table "public.pgbench_branches" {}
  table "public.pgbench_tellers" {}
  table "public.pgbench_history" {}
}`, srcDSN, syncdDSN))
	d.Start()
	waitRows(e, srcDSN, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'syncd_pgbench'", 1, time.Minute)
	d.Stop()

	clients := 4
	perClient := max(txns/clients, 1)
	log.Printf("pgbench: writing a backlog of %d transactions (-c %d -t %d)", perClient*clients, clients, perClient)
	if err := src.Pgbench(ctx, "-n", "-c", strconv.Itoa(clients), "-t", strconv.Itoa(perClient), srcDSN); err != nil {
		e.Fatal(err)
	}
	history, sum := pgbenchState(e, srcDSN)

	start := time.Now()
	dst.Exec(e, "pgbench_native", `ALTER SUBSCRIPTION pgbench_native ENABLE`)
	done := waitPgbench(e, nativeDSN, history, sum, nil, 10*time.Minute)
	native := float64(history) / done.Sub(start).Seconds()
	dst.Exec(e, "pgbench_native", `ALTER SUBSCRIPTION pgbench_native DISABLE`)
	log.Printf("pgbench: native logical replication: %.0f txn/s", native)

	d.Start()
	log.Printf("pgbench: syncd ready after %v", time.Since(d.Started).Round(time.Millisecond))
	if *cpuProfile != "" {
		go profile(d, *cpuProfile+".pgbench", 5*time.Second)
	}
	done = waitPgbench(e, syncdDSN, history, sum, d.Exited(), 10*time.Minute)
	syncd := float64(history) / done.Sub(d.Started).Seconds()
	cpuSecs := d.CPUSeconds()
	d.Stop()
	log.Printf("pgbench: syncd: %.0f txn/s, %.2f CPU s per 10k transactions", syncd, cpuSecs/float64(history)*10_000)

	// Neither slot holds WAL for the parts that follow.
	dst.Exec(e, "pgbench_native", `DROP SUBSCRIPTION pgbench_native`)
	dropSlot(e, srcDSN, "syncd_pgbench")

	return ratioResult(fmt.Sprintf("pgbench catch-up txn/s (scale %d, -c %d), PostgreSQL → PostgreSQL", scale, clients), "txn/s",
		syncd, "txn/s, native logical replication", native, "", 0)
}

// pgbenchState returns the pgbench_history count and the accounts
// checksum of the database at dsn.
func pgbenchState(e *env, dsn string) (history int, sum string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		e.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pgbench_history`).Scan(&history); err != nil {
		e.Fatal(err)
	}
	if err := conn.QueryRow(ctx, accountsChecksum).Scan(&sum); err != nil {
		e.Fatal(err)
	}
	return history, sum
}

// waitPgbench waits until the target at dsn holds history rows in
// pgbench_history and its accounts checksum is sum, and returns when that
// happened. It polls the history count, the cheaper query, and then
// checks the accounts: both appliers commit in source order and each
// pgbench transaction inserts its history row last, so the accounts
// normally match as soon as the count does. abort (may be nil) ends the
// wait early: the applier exited.
func waitPgbench(e *env, dsn string, history int, sum string, abort <-chan struct{}, timeout time.Duration) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		e.Fatal(err)
	}
	defer conn.Close(context.Background())
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var at time.Time // when the history count was reached
	short := false   // the accounts did not match then
	for {
		if at.IsZero() {
			var n int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM pgbench_history`).Scan(&n); err == nil && n >= history {
				at = time.Now()
			}
		}
		if !at.IsZero() {
			var got string
			if err := conn.QueryRow(ctx, accountsChecksum).Scan(&got); err != nil {
				e.Fatal(err)
			}
			switch {
			case got == sum && short:
				return time.Now()
			case got == sum:
				return at
			case !short:
				log.Printf("pgbench: history complete before the accounts matched; waiting for them")
				short = true
			}
		}
		select {
		case <-ctx.Done():
			e.Fatalf("%s: pgbench_history did not reach %d rows with matching accounts within %v", dsn, history, timeout)
		case <-abort:
			e.Fatalf("the applier exited before pgbench_history reached %d rows", history)
		case <-tick.C:
		}
	}
}
