package main

import (
	"context"
	"fmt"
	"log"
	"os/exec"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// snapshotTable is the initial-copy runs' table on PostgreSQL: a bigint
// key, an int, an md5 text and a timestamptz.
const snapshotTable = `CREATE TABLE narrow (id bigint PRIMARY KEY, n int NOT NULL, v text NOT NULL, t timestamptz NOT NULL)`

// initialSnapshot measures the initial copy of a table of rows rows from
// src into a database of dst: PostgreSQL's own (CREATE SUBSCRIPTION with
// copy_data), then syncd's initial snapshot with a scope of default
// settings, each from its start until the target holds every row. It
// returns syncd's rate with its ratio, and syncd's CPU per 100k rows.
func initialSnapshot(e *env, src, dst *testenv.Postgres, bin string, rows int) (rate, cpu result) {
	srcDSN := src.CreateDB(e, "snapshot")
	log.Printf("snapshot: writing %d rows", rows)
	src.Exec(e, "snapshot", snapshotTable,
		fmt.Sprintf(`INSERT INTO narrow SELECT g, g %% 1000, md5(g::text), '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, %d) g`, rows),
		`VACUUM ANALYZE narrow`,
		`CREATE PUBLICATION native FOR TABLE narrow`)
	nativeDSN := dst.CreateDB(e, "snapshot_native")
	dst.Exec(e, "snapshot_native", snapshotTable)
	syncdDSN := dst.CreateDB(e, "snapshot_syncd")

	settle(e, src, dst)
	start := time.Now()
	dst.Exec(e, "snapshot_native", fmt.Sprintf(`CREATE SUBSCRIPTION snapshot_native CONNECTION '%s' PUBLICATION native`, srcDSN))
	native := float64(rows) / waitLastRow(e, nativeDSN, rows, 10*time.Minute).Sub(start).Seconds()
	log.Printf("snapshot: native initial table copy: %.0f rows/s", native)
	// Disabled first, so that its worker ends by itself; dropping it
	// drops its slot at the source.
	dst.Exec(e, "snapshot_native", `ALTER SUBSCRIPTION snapshot_native DISABLE`)
	waitRows(e, nativeDSN, "SELECT count(*) FROM pg_stat_subscription WHERE subname = 'snapshot_native' AND pid IS NULL", 1, time.Minute)
	dst.Exec(e, "snapshot_native", `DROP SUBSCRIPTION snapshot_native`)

	d := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "postgres" "snapshot" {
  dsn = %q%s
}
target "postgres" "copy" {
  dsn           = %q
  create_tables = true
}
scope "snapshot" {
  source  = "snapshot"
  targets = ["copy"]
  table "public.narrow" {}
}`, srcDSN, parallelismSetting(), syncdDSN))
	settle(e, src, dst)
	d.Start()
	if *cpuProfile != "" {
		go profile(d, *cpuProfile+".snapshot", 10*time.Second)
	}
	syncd := float64(rows) / waitLastRow(e, syncdDSN, rows, 10*time.Minute).Sub(d.Started).Seconds()
	perRows := stopSnapshotRun(d, rows, nil)
	log.Printf("snapshot: syncd: %.0f rows/s, %.2f CPU s per 100k rows", syncd, perRows)

	return ratioResult("initial snapshot rows/s, PostgreSQL → PostgreSQL", "rows/s", syncd, "rows/s, native initial table copy (CREATE SUBSCRIPTION)", native, "ratio ≥ 0.50", 0.5),
		result{Name: "syncd CPU per 100k rows of an initial snapshot", Value: perRows, Unit: "CPU s"}
}

// mysqlSnapshotTable is the MariaDB initial-copy run's table, the
// PostgreSQL one's counterpart.
const mysqlSnapshotTable = `CREATE TABLE narrow (id bigint PRIMARY KEY, n int NOT NULL, v varchar(32) NOT NULL, t timestamp(6) NOT NULL)`

// mysqlInitialSnapshot measures the initial copy of a table of rows rows
// (ids 0 to rows-1) from src into databases of another MariaDB server,
// which runs without a binary log: `mariadb-dump --single-transaction |
// mariadb`, then syncd's initial snapshot with a scope of default
// settings, each from its start until the target holds every row. It
// returns syncd's rate with its ratio, and syncd's CPU per 100k rows.
func mysqlInitialSnapshot(e *env, src *testenv.MariaDB, bin string, rows int) (rate, cpu result) {
	dst := testenv.StartMariaDB(e, testenv.WithServerID(2), testenv.WithMariaDBOption("log-bin", ""))
	srcDSN := src.CreateDB(e, "snapshot")
	log.Printf("mysql snapshot: writing %d rows", rows)
	src.Exec(e, "snapshot", mysqlSnapshotTable,
		fmt.Sprintf(`INSERT INTO narrow SELECT seq, seq %% 1000, md5(seq), TIMESTAMP'2026-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_0_to_%d`, rows-1))
	dst.CreateDB(e, "snapshot_native")
	syncdDSN := dst.CreateDB(e, "snapshot_syncd")

	client := func(name string, port int) string {
		path, err := exec.LookPath(name)
		if err != nil {
			e.Fatal(err)
		}
		return fmt.Sprintf("%s --no-defaults -h127.0.0.1 -P%d -uroot", path, port)
	}
	start := time.Now()
	dump := exec.CommandContext(context.Background(), "bash", "-c",
		fmt.Sprintf("set -o pipefail; %s --single-transaction snapshot narrow | %s snapshot_native",
			client("mariadb-dump", src.Port), client("mariadb", dst.Port)))
	if out, err := dump.CombinedOutput(); err != nil {
		e.Fatalf("mariadb-dump | mariadb: %v\n%s", err, out)
	}
	done := waitCaughtUp(e, dst.DSN(""), "`snapshot_native`.`narrow`", rows-1, nil, time.Minute)
	native := float64(rows) / done.Sub(start).Seconds()
	log.Printf("mysql snapshot: mariadb-dump | mariadb: %.0f rows/s", native)

	d := testenv.NewSyncd(e, bin, fmt.Sprintf(`
source "mysql" "snapshot" {
  dsn       = %q
  server_id = 4002%s
}
target "mysql" "copy" {
  dsn           = %q
  create_tables = true
}
scope "snapshot" {
  source  = "snapshot"
  targets = ["copy"]
  table "snapshot.narrow" {}
}`, srcDSN, parallelismSetting(), syncdDSN))
	d.Start()
	profiled := profileMySQL(d, "snapshot")
	done = waitCaughtUp(e, syncdDSN, "`snapshot`.`narrow`", rows-1, d.Exited(), 10*time.Minute)
	syncd := float64(rows) / done.Sub(d.Started).Seconds()
	perRows := stopSnapshotRun(d, rows, profiled)
	log.Printf("mysql snapshot: syncd: %.0f rows/s, %.2f CPU s per 100k rows", syncd, perRows)

	return ratioResult("initial snapshot rows/s, MariaDB → MariaDB", "rows/s", syncd, "rows/s, mariadb-dump | mariadb", native, "ratio ≥ 0.50", 0.5),
		result{Name: "syncd CPU per 100k rows of a MariaDB initial snapshot", Value: perRows, Unit: "CPU s"}
}

// stopSnapshotRun stops syncd after it copied rows rows, once wait (if
// not nil) returns, logs its "snapshot done" lines, which tell how long
// reading the table and publishing its rows took (the rest of the time
// is the apply's tail), and returns its CPU s per 100k rows.
func stopSnapshotRun(d *testenv.Syncd, rows int, wait func()) float64 {
	cpuSecs := d.CPUSeconds()
	if wait != nil {
		wait()
	}
	d.Stop()
	for _, l := range strings.Split(d.Logs(), "\n") {
		if strings.Contains(l, `"snapshot done"`) {
			log.Printf("snapshot: syncd logged %s", l)
		}
	}
	return cpuSecs / float64(rows) * 100_000
}
