package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/syncd-dev/syncd/test/testenv"
)

const narrowTable = `CREATE TABLE narrow (id bigint PRIMARY KEY, n int NOT NULL, v text NOT NULL)`

// captureThroughput writes rows in transactions of txnRows into a table
// that a raw pgoutput slot and syncd both follow, then reads the same WAL
// with each: a minimal pglogrepl reader that decodes and discards, and
// syncd publishing to JetStream until the stream holds every row.
// It returns the rate with its ratio and syncd's CPU time per 100k rows.
func captureThroughput(e *env, pg *testenv.Postgres, bin string, rows, txnRows int) (rate, cpu result) {
	dsn := pg.CreateDB(e, "capture")
	pg.Exec(e, "capture", narrowTable,
		`CREATE PUBLICATION raw FOR TABLE narrow`,
		`SELECT pg_create_logical_replication_slot('raw', 'pgoutput')`)
	config := fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
scope "all" {
  %s
  source   = "app"
  snapshot = "never"
  table "public.narrow" {}
}`, dsn, scopeOptions())
	// Let syncd create its slot and publication, then stop it so that the
	// rows become a backlog both readers start from. With no initial
	// snapshot, a start that stops early cannot leave one pending that the
	// measured run would take instead of reading the log.
	d := testenv.NewSyncd(e, bin, config)
	d.Start()
	d.Stop()
	log.Printf("capture: writing %d rows in transactions of %d", rows, txnRows)
	insertNarrow(e, dsn, rows, txnRows)

	raw := rawRead(e, pg.DSN("capture"), rows)
	log.Printf("capture: raw pgoutput reader: %.0f rows/s", raw)

	d.Start()
	if *cpuProfile != "" {
		go profile(d, *cpuProfile, 5*time.Second)
	}
	done := waitStream(e, d, "all", messages(rows, txnRows), rows, 10*time.Minute)
	elapsed := done.Sub(d.Started).Seconds()
	cpuSecs := d.CPUSeconds()
	d.Stop()
	syncd := float64(rows) / elapsed
	log.Printf("capture: syncd: %.0f rows/s, %.2f CPU s per 100k rows", syncd, cpuSecs/float64(rows)*100_000)

	return ratioResult(variant("capture rows/s, PostgreSQL → JetStream (durable)"), "rows/s", syncd, "rows/s, raw pgoutput reader", raw, "ratio ≥ 0.40", 0.40),
		result{Name: "syncd CPU per 100k rows captured", Value: cpuSecs / float64(rows) * 100_000, Unit: "CPU s"}
}

func insertNarrow(e *env, dsn string, rows, txnRows int) {
	insertRange(e, dsn, rows, txnRows, `INSERT INTO narrow SELECT g, g % 1000, md5(g::text) FROM generate_series($1::bigint, $2::bigint) g`)
}

// insertRange runs insert, which inserts the rows $1 to $2 (with extra
// arguments from $3), for rows 1..rows in transactions of txnRows.
func insertRange(e *env, dsn string, rows, txnRows int, insert string, extra ...any) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		e.Fatal(err)
	}
	defer conn.Close(ctx)
	for first := 1; first <= rows; first += txnRows {
		last := min(first+txnRows-1, rows)
		if _, err := conn.Exec(ctx, insert, append([]any{first, last}, extra...)...); err != nil {
			e.Fatal(err)
		}
	}
}

// rawRead reads the "raw" slot with pglogrepl, decoding every message and
// discarding it, until it has seen rows inserts, and returns rows/s.
func rawRead(e *env, dsn string, rows int) float64 {
	ctx := context.Background()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		e.Fatal(err)
	}
	cfg.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		e.Fatal(err)
	}
	defer conn.Close(ctx)
	start := time.Now()
	err = pglogrepl.StartReplication(ctx, conn, "raw", 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names 'raw'"},
	})
	if err != nil {
		e.Fatal(err)
	}
	seen := 0
	for seen < rows {
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			e.Fatal(err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 || cd.Data[0] != pglogrepl.XLogDataByteID {
			continue
		}
		xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
		if err != nil {
			e.Fatal(err)
		}
		m, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			e.Fatal(err)
		}
		if _, ok := m.(*pglogrepl.InsertMessage); ok {
			seen++
		}
	}
	return float64(rows) / time.Since(start).Seconds()
}
