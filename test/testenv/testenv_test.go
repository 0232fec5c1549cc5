package testenv

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
)

func TestPostgresStartsWithLogicalWAL(t *testing.T) {
	pg := StartPostgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "logical" {
		t.Fatalf("wal_level = %q, want logical", level)
	}
}

func TestPostgresSettingOverride(t *testing.T) {
	pg := StartPostgres(t, WithSetting("wal_level", "replica"))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "replica" {
		t.Fatalf("wal_level = %q, want replica", level)
	}
}

func TestNATSRestartKeepsStreams(t *testing.T) {
	n := StartNATS(t)
	nc := n.Connect(t)
	js, _ := nc.JetStream()
	if _, err := js.AddStream(&nats.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("s.a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	n.Restart(t)
	nc2 := n.Connect(t)
	js2, _ := nc2.JetStream()
	info, err := js2.StreamInfo("S")
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("msgs after restart = %d, want 1", info.State.Msgs)
	}
}

func TestMariaDBWritesRowBinlog(t *testing.T) {
	m := StartMariaDB(t, WithServerID(7), WithMariaDBOption("binlog-format", "MIXED"))
	d, err := sql.Open("mysql", m.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var logBin, format, image, metadata string
	var id int
	err = d.QueryRow("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@server_id").Scan(&logBin, &format, &image, &metadata, &id)
	if err != nil {
		t.Fatal(err)
	}
	if logBin != "1" || format != "MIXED" || image != "FULL" || metadata != "FULL" || id != 7 {
		t.Fatalf("log_bin=%s binlog_format=%s binlog_row_image=%s binlog_row_metadata=%s server_id=%d; want 1 MIXED FULL FULL 7", logBin, format, image, metadata, id)
	}
	m.CreateDB(t, "shop")
	m.Exec(t, "shop", "CREATE TABLE t (id int primary key)", "INSERT INTO t VALUES (1)")
	m.Stop(t)
	m.Start(t)
	var n int
	if err := d.QueryRow("SELECT count(*) FROM shop.t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after restart: count = %d, %v; want 1", n, err)
	}
}

func TestSysbenchPreparesTables(t *testing.T) {
	m := StartMariaDB(t)
	m.CreateDB(t, "sbtest")
	if err := m.Sysbench(context.Background(), "oltp_write_only", "prepare", "sbtest", "--tables=2", "--table-size=100"); err != nil {
		t.Fatal(err)
	}
	d, err := sql.Open("mysql", m.DSN("sbtest"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow("SELECT count(*) FROM sbtest2").Scan(&n); err != nil || n != 100 {
		t.Fatalf("sbtest2 has %d rows (%v); want 100", n, err)
	}
}
