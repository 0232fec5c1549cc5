package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestProvisionErrors wants a Terminal error naming the setting and the
// fix for each bad setting or state.
func TestProvisionErrors(t *testing.T) {
	prepare := func(t *testing.T, cfg Config) error {
		t.Helper()
		src, err := New(cfg, Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return src.Prepare(context.Background())
	}
	check := func(t *testing.T, err error, want ...string) {
		t.Helper()
		if err == nil || !retry.IsTerminal(err) {
			t.Fatalf("Prepare = %v, want a terminal error", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}

	t.Run("settings", func(t *testing.T) {
		m := testenv.StartMariaDB(t)
		dsn := m.CreateDB(t, "shop")
		m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY, name text)`, `CREATE TABLE nokey (id int)`)
		store := newStore(t)
		ok := Config{Name: "shop", DSN: dsn, ServerID: 4001, Tables: tables("shop", "item"), Store: store}
		if err := prepare(t, ok); err != nil {
			t.Fatalf("Prepare with good settings: %v", err)
		}

		cfg := ok
		cfg.ServerID = 0
		check(t, prepare(t, cfg), "server_id 0", "non-zero")
		cfg.ServerID = 1
		check(t, prepare(t, cfg), "server_id 1", "same as the server's own @@server_id")

		cfg = ok
		cfg.Tables = append(tables("shop", "nokey", "missing"), capture.TableSpec{ID: capture.TableID{Schema: "shop", Name: "item"}, Columns: []string{"price"}, Scopes: []string{"s"}})
		check(t, prepare(t, cfg), "table shop.nokey has no primary key", "table shop.missing (scope s) does not exist", `no column "price"`)

		// Check sees the catalog's table, and its error fails the start.
		var seen *capture.Table
		cfg = ok
		cfg.Tables = []capture.TableSpec{{ID: capture.TableID{Schema: "shop", Name: "item"}, Check: func(t *capture.Table) error {
			seen = t
			return errors.New("the mapping does not fit")
		}}}
		check(t, prepare(t, cfg), "the mapping does not fit")
		want := &capture.Table{Schema: "shop", Name: "item", Key: []int{0}, Columns: []capture.Column{{Name: "id", Type: "int(11)"}, {Name: "name", Type: "text"}}}
		if diff := cmp.Diff(want, seen); diff != "" {
			t.Errorf("Check saw (-want +got):\n%s", diff)
		}

		// Save a position in the first binlog file, then purge the file.
		r := start(t, ok, &recorder{})
		r.stop(t)
		m.Exec(t, "", "FLUSH BINARY LOGS")
		m.PurgeBinaryLogsTo(t, "mariadb-bin.000002")
		check(t, prepare(t, ok), "binlog file mariadb-bin.000001", "that source shop must resume from has been purged (first available: mariadb-bin.000002)")
	})
	t.Run("mixed", func(t *testing.T) {
		m := testenv.StartMariaDB(t, testenv.WithMariaDBOption("binlog-format", "MIXED"))
		check(t, prepare(t, Config{Name: "shop", DSN: m.CreateDB(t, "shop"), ServerID: 4001, Store: newStore(t)}), "binlog_format is MIXED", "binlog_format=ROW")
	})
	t.Run("minimal", func(t *testing.T) {
		m := testenv.StartMariaDB(t, testenv.WithMariaDBOption("binlog-row-image", "MINIMAL"), testenv.WithMariaDBOption("binlog-row-metadata", "MINIMAL"))
		err := prepare(t, Config{Name: "shop", DSN: m.CreateDB(t, "shop"), ServerID: 4001, Store: newStore(t)})
		check(t, err, "binlog_row_image is MINIMAL", "binlog_row_image=FULL", "binlog_row_metadata is MINIMAL")
	})
}

// TestPurgedWhileStopped maps the server's error 1236 at the start of
// streaming to a Terminal error too (Run, not only Prepare, sees it).
func TestStreamPurged(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY)`)
	store := newStore(t)
	cfg := Config{Name: "shop", DSN: dsn, ServerID: 4001, Tables: tables("shop", "item"), Store: store}
	r := start(t, cfg, &recorder{})
	r.stop(t)
	// A saved GTID that the server never logged: 1236 at dump time.
	b, _ := jsonState(state{Flavor: "mariadb", File: "mariadb-bin.000001", Pos: 4, GTID: "0-1-999"})
	if err := store.Save(context.Background(), "shop", b); err != nil {
		t.Fatal(err)
	}
	src, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = src.Run(ctx, &recorder{})
	if !retry.IsTerminal(err) || !strings.Contains(err.Error(), "must resume from has been purged") {
		t.Fatalf("Run = %v, want a terminal error about the missing binlog", err)
	}
}
