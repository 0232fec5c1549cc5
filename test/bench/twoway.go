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
// and drops them as echoes: loop prevention is part of the cost. Each
// variant runs twice, in the order one, two, two, one, with a backlog of
// rows each time. It returns the two-way rate (2×rows over the time of
// both its runs) with its ratio to the one-way rate.
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

	// Two rounds, one-way first and then two-way first (ABBA), each
	// variant catching up a backlog of rows new rows per round, so that
	// whatever drifts in a run (the machine's load, the clusters' caches
	// and WAL) weighs on both alike. Both source slots are in one
	// cluster: the one running second in a round is moved past the rows
	// of the first, which come first, as in endToEnd; and the two-way
	// pair's slot at dst past the one-way rows applied there, so that
	// neither reads the other's rows while it is measured.
	advance := func(pg *testenv.Postgres, db, slot string) {
		q := fmt.Sprintf(`SELECT pg_replication_slot_advance('syncd_%s', pg_current_wal_lsn())`, slot)
		pg.Exec(e, db, q, `CHECKPOINT`, q)
	}
	type variant struct {
		name, db, srcDSN, dstDSN string
		d                        *testenv.Syncd
		secs                     float64
	}
	ow := &variant{name: "one-way", db: "ow", srcDSN: oneSrc, dstDSN: oneDst, d: one}
	tw := &variant{name: "two-way", db: "tw", srcDSN: twoSrc, dstDSN: twoDst, d: two}
	for round, order := range [][2]*variant{{ow, tw}, {tw, ow}} {
		from := round * rows
		log.Printf("two-way: round %d: writing %d rows in transactions of %d for %s, then %s", round+1, rows, txnRows, order[0].name, order[1].name)
		insertRange(e, order[0].srcDSN, rows, txnRows, insertNarrowFrom, from)
		advance(src, order[1].db, order[1].db)
		insertRange(e, order[1].srcDSN, rows, txnRows, insertNarrowFrom, from)
		for _, v := range order {
			src.Exec(e, v.db, `VACUUM ANALYZE narrow`)
		}
		for _, v := range order {
			settle(e, src, dst)
			if v == tw {
				advance(dst, "tw_copy", "twb")
			}
			v.d.Start()
			if *cpuProfile != "" && round == 0 {
				go profile(v.d, *cpuProfile+".twoway-"+v.name, 10*time.Second)
			}
			secs := waitLastRow(e, v.dstDSN, from+rows, 20*time.Minute).Sub(v.d.Started).Seconds()
			v.d.Stop()
			v.secs += secs
			log.Printf("two-way: round %d: %s: %.0f rows/s", round+1, v.name, float64(rows)/secs)
		}
	}
	oneRate, twoRate := float64(2*rows)/ow.secs, float64(2*rows)/tw.secs
	return ratioResult(variantFor("catch-up rows/s, PostgreSQL → PostgreSQL, two-way (conflict detection)", packedRowsPerMessage), "rows/s",
		twoRate, "rows/s, the same scope one-way", oneRate, "ratio ≥ 0.80", 0.8)
}

// insertNarrowFrom is narrow's insert for insertRange of the rows $1+$3
// to $2+$3.
const insertNarrowFrom = `INSERT INTO narrow SELECT g + $3, (g + $3) % 1000, md5((g + $3)::text) FROM generate_series($1::bigint, $2::bigint) g`

// waitSlot waits until cluster pg holds the replication slot of syncd's
// source name.
func waitSlot(e *env, pg *testenv.Postgres, name string) {
	waitRows(e, pg.DSN("postgres"), fmt.Sprintf("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'syncd_%s'", name), 1, time.Minute)
}
