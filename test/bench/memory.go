package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/test/testenv"
)

// largeTransactionRSS starts syncd, commits one transaction of rows
// inserts, and reports syncd's peak resident memory once the stream holds
// them all. The embedded NATS server runs inside syncd, so it counts.
func largeTransactionRSS(e *env, pg *testenv.Postgres, bin string, rows int) result {
	dsn := pg.CreateDB(e, "large")
	pg.Exec(e, "large", narrowTable)
	d := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "postgres" "large" { dsn = %q }
scope "all" {
  source = "large"
  table "public.narrow" {}
}`, dsn))
	d.Start()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		e.Fatal(err)
	}
	defer conn.Close(ctx)
	log.Printf("memory: one transaction of %d rows", rows)
	if _, err := conn.Exec(ctx, `INSERT INTO narrow SELECT g, g % 1000, md5(g::text) FROM generate_series(1, $1::bigint) g`, rows); err != nil {
		e.Fatal(err)
	}
	waitStream(e, d, "all", uint64(rows), 10*time.Minute)
	rss := d.PeakRSS() / (1 << 20)
	d.Stop()
	met := rss < 150
	log.Printf("memory: peak RSS %.1f MiB", rss)
	return result{Name: fmt.Sprintf("peak RSS, one %d-row transaction", rows), Value: rss, Unit: "MiB", Goal: "< 150 MiB", Met: &met}
}
