package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/test/testenv"
)

// The many-spokes run (issue 20): spokeCount scopes from one template
// with disjoint region = :r filters against one scope over the whole
// table, each publishing the same spokeRows rows of one transaction.
const (
	spokeCount = 1000
	spokeRows  = 50_000
)

const spokeTable = `CREATE TABLE orders (id bigint PRIMARY KEY, region text NOT NULL, note text NOT NULL)`

// spokeScaling measures capture (PostgreSQL → JetStream) of one
// transaction of spokeRows inserts into a table that spokeCount spoke
// scopes share, each taking one region's rows (row g is in region
// r<g mod spokeCount>), next to one scope taking every row: the same rows,
// each published once in both. Each run starts syncd on its own database,
// waits until it is ready (the time that takes is reported: the spokes'
// streams are made then), commits the transaction, and times from the
// commit until every stream holds its rows. It returns both rates, their
// ratio (goal ≥ 0.5), the spokes' peak RSS (goal < 250 MiB) and both
// times to ready.
func spokeScaling(e *env, pg *testenv.Postgres, bin string) []result {
	type run struct {
		rate, rss float64
		ready     time.Duration
	}
	measure := func(n int) run {
		db := fmt.Sprintf("spokes%d", n)
		dsn := pg.CreateDB(e, db)
		pg.Exec(e, db, spokeTable)
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "source \"postgres\" %q { dsn = %q }\n", db, dsn)
		scopes := make([]string, n)
		if n == 1 {
			scopes[0] = "all"
			fmt.Fprintf(&cfg, "scope \"all\" {\n  source = %q\n  snapshot = \"never\"\n  table \"public.orders\" {}\n}\n", db)
		} else {
			cfg.WriteString("template \"spoke\" {\n  params = [\"r\"]\n  table \"public.orders\" { where = \"region = :r\" }\n}\n")
			for i := range scopes {
				scopes[i] = fmt.Sprintf("spoke%d", i)
				fmt.Fprintf(&cfg, "scope %q {\n  source = %q\n  snapshot = \"never\"\n  template = \"spoke\"\n  params = { r = \"r%d\" }\n}\n", scopes[i], db, i)
			}
		}
		d := testenv.NewSyncd(e, bin, cfg.String())
		d.LogLevel = "info" // a thousand scopes log a lot at debug
		d.Start()
		ready := time.Since(d.Started)
		log.Printf("spokes: %d scope(s): ready after %v; one transaction of %d rows", n, ready.Round(time.Millisecond), spokeRows)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			e.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO orders SELECT g, 'r' || (g % $2), md5(g::text) FROM generate_series(1, $1::bigint) g`, spokeRows, spokeCount); err != nil {
			e.Fatal(err)
		}
		conn.Close(ctx)
		committed := time.Now()
		if *cpuProfile != "" && n > 1 {
			go profile(d, *cpuProfile+".spokes", 5*time.Second)
		}
		done := waitStreams(e, d, scopes, uint64(spokeRows/n), 10*time.Minute)
		r := run{rate: spokeRows / done.Sub(committed).Seconds(), rss: d.PeakRSS() / (1 << 20), ready: ready}
		d.Stop()
		log.Printf("spokes: %d scope(s): %.0f rows/s, peak RSS %.1f MiB", n, r.rate, r.rss)
		return r
	}
	one, many := measure(1), measure(spokeCount)
	met := many.rss < 250
	return []result{
		{Name: "capture rows/s, 1 scope, one 50,000-row transaction", Value: one.rate, Unit: "rows/s"},
		ratioResult(fmt.Sprintf("capture rows/s, %d disjoint spoke scopes, same rows", spokeCount), "rows/s", many.rate, "rows/s, 1 scope", one.rate, "ratio ≥ 0.5", 0.5),
		{Name: fmt.Sprintf("peak RSS, %d spoke scopes", spokeCount), Value: many.rss, Unit: "MiB", Goal: "< 250 MiB", Met: &met},
		{Name: "time to ready, 1 scope", Value: one.ready.Seconds(), Unit: "s"},
		ratioResult(fmt.Sprintf("time to ready, %d spoke scopes (first start)", spokeCount), "s", many.ready.Seconds(), "s, 1 scope", one.ready.Seconds(), "", 0),
	}
}
