package main

import (
	"fmt"
	"log"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// twoWayCatchUp measures the catch-up of a backlog of rows (inserted in
// transactions of txnRows while syncd is stopped) from cluster src into
// cluster dst with the scope two-way, conflict detection on (each change
// probed at the target, apply.BatchProber), against the same scope
// one-way, in the same run: the same table, REPLICA IDENTITY FULL on
// both, rows_per_message = packedRowsPerMessage, snapshot = "never". The
// two-way pair also captures dst, whose decoder reads the applied rows
// and drops them as echoes: loop prevention is part of the cost. It
// returns the two-way rate with its ratio to the one-way rate.
func twoWayCatchUp(e *env, src, dst *testenv.Postgres, bin string, rows, txnRows int) result {
	const full = `ALTER TABLE narrow REPLICA IDENTITY FULL`
	pack := scopeOptionsFor(packedRowsPerMessage)

	oneSrc := src.CreateDB(e, "ow")
	src.Exec(e, "ow", narrowTable, full)
	oneDst := dst.CreateDB(e, "ow_copy")
	dst.Exec(e, "ow_copy", narrowTable, full)
	one := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "postgres" "ow" { dsn = %q }
target "postgres" "copy" { dsn = %q }
scope "narrow" {
  %s
  source   = "ow"
  targets  = ["copy"]
  snapshot = "never"
  table "public.narrow" {}
}`, oneSrc, oneDst, pack))

	twoSrc := src.CreateDB(e, "tw")
	src.Exec(e, "tw", narrowTable, full)
	twoDst := dst.CreateDB(e, "tw_copy")
	dst.Exec(e, "tw_copy", narrowTable, full)
	two := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "postgres" "tw" { dsn = %[1]q }
source "postgres" "twb" { dsn = %[2]q }
target "postgres" "ta" {
  dsn     = %[1]q
  same_as = "tw"
}
target "postgres" "tb" {
  dsn     = %[2]q
  same_as = "twb"
}
scope "ab" {
  %[3]s
  source    = "tw"
  targets   = ["tb"]
  snapshot  = "never"
  conflicts = "source_wins"
  table "public.narrow" {}
}
scope "ba" {
  %[3]s
  source    = "twb"
  targets   = ["ta"]
  snapshot  = "never"
  conflicts = "target_wins"
  table "public.narrow" {}
}`, twoSrc, twoDst, pack))

	// A first run of each creates the slots; the rows come after them.
	one.Start()
	waitSlot(e, src, "ow")
	one.Stop()
	two.Start()
	waitSlot(e, src, "tw")
	waitSlot(e, dst, "twb")
	two.Stop()

	log.Printf("two-way: writing %d rows in transactions of %d, twice", rows, txnRows)
	insertNarrow(e, oneSrc, rows, txnRows)
	// Both slots are in one cluster: move the two-way one past the
	// one-way rows, which come first, as in endToEnd.
	advance := `SELECT pg_replication_slot_advance('syncd_tw', pg_current_wal_lsn())`
	src.Exec(e, "tw", advance, `CHECKPOINT`, advance)
	insertNarrow(e, twoSrc, rows, txnRows)
	src.Exec(e, "ow", `VACUUM ANALYZE narrow`)
	src.Exec(e, "tw", `VACUUM ANALYZE narrow`)

	rate := func(d *testenv.Syncd, dsn, name string) float64 {
		settle(e, src, dst)
		d.Start()
		if *cpuProfile != "" {
			go profile(d, *cpuProfile+".twoway-"+name, 10*time.Second)
		}
		r := float64(rows) / waitLastRow(e, dsn, rows, 20*time.Minute).Sub(d.Started).Seconds()
		d.Stop()
		log.Printf("two-way: %s: %.0f rows/s", name, r)
		return r
	}
	oneRate := rate(one, oneDst, "one-way")
	twoRate := rate(two, twoDst, "two-way")
	return ratioResult(variantFor("catch-up rows/s, PostgreSQL → PostgreSQL, two-way (conflict detection)", packedRowsPerMessage), "rows/s",
		twoRate, "rows/s, the same scope one-way", oneRate, "ratio ≥ 0.80", 0.8)
}

// waitSlot waits until cluster pg holds the replication slot of syncd's
// source name.
func waitSlot(e *env, pg *testenv.Postgres, name string) {
	waitRows(e, pg.DSN("postgres"), fmt.Sprintf("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'syncd_%s'", name), 1, time.Minute)
}
