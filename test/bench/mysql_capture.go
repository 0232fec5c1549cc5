package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	_ "github.com/go-sql-driver/mysql"

	"github.com/syncd-dev/syncd/test/testenv"
)

var mysqlCPUProfile = flag.String("mysql-cpuprofile", "", "save CPU profiles of syncd's first 5 s in the MySQL runs to `prefix`-capture.pprof and prefix-e2e.pprof")

// mysqlNarrowTable is the binlog runs' table: a narrow row of about 80
// bytes, like sysbench's but without its 120-byte c.
const mysqlNarrowTable = `CREATE TABLE narrow (id bigint PRIMARY KEY, k int NOT NULL, c char(40) NOT NULL, pad char(20) NOT NULL)`

// binlogPos is a binlog file and offset on the source.
type binlogPos struct {
	File string
	Pos  uint32
}

// binlogCapture measures syncd reading a backlog of rows (inserted in
// transactions of txnRows while it is stopped) from a MariaDB binlog into
// JetStream, against a raw go-mysql BinlogSyncer that reads the same
// binlog from the same place, decodes every event and discards it.
// It returns syncd's rate with its ratio and syncd's CPU per 100k rows.
func binlogCapture(e *env, my *testenv.MariaDB, bin string, rows, txnRows int) (rate, cpu result) {
	dsn := my.CreateDB(e, "capture")
	my.Exec(e, "capture", mysqlNarrowTable)
	d := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "mysql" "app" {
  dsn       = %q
  server_id = 4001
}
scope "all" {
  %s
  source   = "app"
  snapshot = "never"
  table "capture.narrow" {}
}`, dsn, scopeOptions()))
	// With no saved position syncd starts at the binlog's end: let it see
	// a marker row, so that the position it saves on stop is before the
	// backlog.
	d.Start()
	my.Exec(e, "capture", `INSERT INTO narrow VALUES (0, 0, 'marker', 'marker')`)
	waitStream(e, d, "all", 1, 0, time.Minute)
	d.Stop()

	from := masterStatus(e, dsn)
	log.Printf("mysql capture: writing %d rows in transactions of %d from %s:%d", rows, txnRows, from.File, from.Pos)
	insertNarrowMySQL(e, dsn, rows, txnRows)

	raw := rawBinlogRead(e, my, from, "capture", "narrow", rows)
	log.Printf("mysql capture: raw BinlogSyncer: %.0f rows/s", raw)

	d.Start()
	log.Printf("mysql capture: syncd ready after %v", time.Since(d.Started).Round(time.Millisecond))
	profiled := profileMySQL(d, "capture")
	done := waitStream(e, d, "all", messages(rows, txnRows)+1, rows, 10*time.Minute)
	elapsed := done.Sub(d.Started).Seconds()
	cpuSecs := d.CPUSeconds()
	profiled()
	d.Stop()
	syncd := float64(rows) / elapsed
	perRows := cpuSecs / float64(rows) * 100_000
	log.Printf("mysql capture: syncd: %.0f rows/s, %.2f CPU s per 100k rows", syncd, perRows)

	return ratioResult(variant("binlog capture rows/s, MariaDB → JetStream"), "rows/s", syncd, "rows/s, raw BinlogSyncer decode", raw, "ratio ≥ 0.50", 0.5),
		result{Name: "syncd CPU per 100k rows captured from the binlog", Value: perRows, Unit: "CPU s"}
}

// insertNarrowMySQL inserts rows 1..rows into narrow in transactions of
// txnRows, one INSERT … SELECT from the SEQUENCE engine each.
func insertNarrowMySQL(e *env, dsn string, rows, txnRows int) {
	ctx := context.Background()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		e.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		e.Fatal(err)
	}
	defer conn.Close()
	// The sequence table's name is its range; rows is an int.
	q := fmt.Sprintf(`INSERT INTO narrow SELECT seq, seq %% 1000, SHA1(seq), LEFT(MD5(seq), 20) FROM seq_1_to_%d WHERE seq BETWEEN ? AND ?`, rows)
	for first := 1; first <= rows; first += txnRows {
		last := min(first+txnRows-1, rows)
		if _, err := conn.ExecContext(ctx, q, first, last); err != nil {
			e.Fatal(err)
		}
	}
}

// masterStatus returns the server's current binlog end.
func masterStatus(e *env, dsn string) binlogPos {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		e.Fatal(err)
	}
	defer db.Close()
	r, err := db.Query(`SHOW MASTER STATUS`)
	if err != nil {
		e.Fatal(err)
	}
	defer r.Close()
	cols, err := r.Columns()
	if err != nil {
		e.Fatal(err)
	}
	if !r.Next() {
		e.Fatalf("SHOW MASTER STATUS returned no row: is the binlog on? %v", r.Err())
	}
	var p binlogPos
	dest := make([]any, len(cols))
	dest[0], dest[1] = &p.File, &p.Pos
	for i := 2; i < len(dest); i++ {
		dest[i] = new(sql.RawBytes)
	}
	if err := r.Scan(dest...); err != nil {
		e.Fatal(err)
	}
	return p
}

// rawBinlogRead reads the binlog from "from" with a go-mysql BinlogSyncer
// in its default configuration (every event decoded, rows included) and
// discards the events, until it has seen rows rows of schema.table, and
// returns rows/s, connecting included.
func rawBinlogRead(e *env, my *testenv.MariaDB, from binlogPos, schema, table string, rows int) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 4002,
		Flavor:   gomysql.MariaDBFlavor,
		Host:     "127.0.0.1",
		Port:     uint16(my.Port),
		User:     "root",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer syncer.Close()
	stream, err := syncer.StartSync(gomysql.Position{Name: from.File, Pos: from.Pos})
	if err != nil {
		e.Fatal(err)
	}
	seen := 0
	for seen < rows {
		ev, err := stream.GetEvent(ctx)
		if err != nil {
			e.Fatalf("raw binlog reader: %v after %d of %d rows", err, seen, rows)
		}
		if re, ok := ev.Event.(*replication.RowsEvent); ok && string(re.Table.Schema) == schema && string(re.Table.Table) == table {
			seen += len(re.Rows)
		}
	}
	return float64(rows) / time.Since(start).Seconds()
}

// profileMySQL starts saving a CPU profile of syncd's next 5 s to
// <-mysql-cpuprofile>-part.pprof, if that flag is set. The returned
// function waits until the profile is saved; call it before stopping d.
func profileMySQL(d *testenv.Syncd, part string) (wait func()) {
	if *mysqlCPUProfile == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		profile(d, *mysqlCPUProfile+"-"+part+".pprof", 5*time.Second)
	}()
	return func() { <-done }
}
