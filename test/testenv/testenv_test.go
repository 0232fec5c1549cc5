package testenv

import (
	"context"
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
