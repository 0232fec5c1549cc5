package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// mysqlEndToEnd measures the catch-up of one backlog of rows on src
// (inserted in transactions of txnRows while neither replication runs)
// by MariaDB's native replication (a replica with server_id 3, both
// threads stopped while the backlog is written, so that it fetches and
// applies it) and then by syncd into another MariaDB, one after the other.
// It returns syncd's rate with its ratio, and syncd's CPU per 100k rows.
func mysqlEndToEnd(e *env, src *testenv.MariaDB, bin string, rows, txnRows int) (rate, cpu result) {
	// Both targets run without a binary log, MariaDB's default. With one,
	// syncd's target logged every row it applied, the replica (whose
	// log_slave_updates is off) none.
	noBinlog := testenv.WithMariaDBOption("log-bin", "")
	dst := testenv.StartMariaDB(e, testenv.WithServerID(2), noBinlog)
	replica := testenv.StartMariaDB(e, testenv.WithServerID(3), noBinlog)

	// The replica starts before the schema exists, and so replicates it.
	from := masterStatus(e, src.DSN(""))
	srcDSN := src.CreateDB(e, "e2e")
	src.Exec(e, "e2e", mysqlNarrowTable)
	replica.Exec(e, "", fmt.Sprintf(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_PASSWORD='', MASTER_LOG_FILE='%s', MASTER_LOG_POS=%d`,
		src.Port, from.File, from.Pos), `START SLAVE`)

	// syncd's first run sees the marker row, creates the table at the
	// target and saves a position before the backlog.
	dstDSN := dst.CreateDB(e, "syncd")
	d := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "mysql" "e2e" {
  dsn       = %q
  server_id = 4001
}
target "mysql" "copy" {
  dsn           = %q
  create_tables = true
}
scope "narrow" {
  %s
  source   = "e2e"
  targets  = ["copy"]
  snapshot = "never"
  table "e2e.narrow" {}
}`, srcDSN, dstDSN, scopeOptions()))
	d.Start()
	src.Exec(e, "e2e", `INSERT INTO narrow VALUES (0, 0, 'marker', 'marker')`)
	waitCaughtUp(e, dstDSN, "`e2e`.`narrow`", 0, d.Exited(), time.Minute)
	d.Stop()
	waitCaughtUp(e, replica.DSN(""), "`e2e`.`narrow`", 0, nil, time.Minute)
	replica.Exec(e, "", `STOP SLAVE`)

	log.Printf("mysql end to end: writing %d rows in transactions of %d", rows, txnRows)
	insertNarrowMySQL(e, srcDSN, rows, txnRows)

	start := time.Now()
	replica.Exec(e, "", `START SLAVE`)
	done := waitCaughtUp(e, replica.DSN(""), "`e2e`.`narrow`", rows, nil, 10*time.Minute)
	native := float64(rows) / done.Sub(start).Seconds()
	replica.Exec(e, "", `STOP SLAVE`)
	log.Printf("mysql end to end: native replication: %.0f rows/s", native)

	d.Start()
	log.Printf("mysql end to end: syncd ready after %v", time.Since(d.Started).Round(time.Millisecond))
	profiled := profileMySQL(d, "e2e")
	done = waitCaughtUp(e, dstDSN, "`e2e`.`narrow`", rows, d.Exited(), 10*time.Minute)
	syncd := float64(rows) / done.Sub(d.Started).Seconds()
	cpuSecs := d.CPUSeconds()
	profiled()
	d.Stop()
	perRows := cpuSecs / float64(rows) * 100_000
	log.Printf("mysql end to end: syncd: %.0f rows/s, %.2f CPU s per 100k rows", syncd, perRows)

	return ratioResult(variant("catch-up rows/s, MariaDB → MariaDB"), "rows/s", syncd, "rows/s, native replication", native, "ratio ≥ 0.50", 0.5),
		result{Name: "syncd CPU per 100k rows replicated from the binlog", Value: perRows, Unit: "CPU s"}
}

// waitCaughtUp waits until table (quoted, ids 0..last) holds every row
// and returns when it did. It polls max(id), cheap on the primary key,
// and then checks the count, so that the polling does not slow the
// writer down; both appliers commit in source order, so the count is
// normally complete as soon as the last id is there. abort (may be nil)
// ends the wait early: the applier exited.
func waitCaughtUp(e *env, dsn, table string, last int, abort <-chan struct{}, timeout time.Duration) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		e.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var at time.Time // when the last id was there
	short := false   // the count was short then
	for {
		if at.IsZero() {
			var max sql.NullInt64
			// The table is missing until the applier creates it.
			if err := db.QueryRowContext(ctx, "SELECT max(id) FROM "+table).Scan(&max); err == nil && max.Valid && max.Int64 >= int64(last) {
				at = time.Now()
			}
		}
		if !at.IsZero() {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				e.Fatal(err)
			}
			switch {
			case n >= last+1 && short:
				return time.Now()
			case n >= last+1:
				return at
			case !short:
				log.Printf("%s: id %d arrived before %d other rows; waiting for the count", table, last, last+1-n)
				short = true
			}
		}
		select {
		case <-ctx.Done():
			e.Fatalf("%s did not reach %d rows within %v%s", table, last+1, timeout, replicaErrors(dsn))
		case <-abort:
			e.Fatalf("the applier exited before %s reached %d rows", table, last+1)
		case <-tick.C:
		}
	}
}

// replicaErrors returns the replication threads' last errors, if dsn is a
// replica with any.
func replicaErrors(dsn string) string {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return ""
	}
	defer db.Close()
	r, err := db.Query(`SHOW SLAVE STATUS`)
	if err != nil {
		return ""
	}
	defer r.Close()
	cols, _ := r.Columns()
	if !r.Next() {
		return ""
	}
	vals := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if r.Scan(dest...) != nil {
		return ""
	}
	s := ""
	for i, c := range cols {
		if (c == "Last_IO_Error" || c == "Last_SQL_Error") && vals[i].String != "" {
			s += fmt.Sprintf("; %s: %s", c, vals[i].String)
		}
	}
	return s
}
