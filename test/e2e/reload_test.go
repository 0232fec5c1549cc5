package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestReload changes a running daemon's config and sends SIGHUP, as
// `systemctl reload syncd` does, with NOTIFY_SOCKET set as systemd sets
// it. A config with a typo is rejected whole: the running config goes on
// unchanged. A valid config that adds a scope applies it while the first
// scope keeps streaming, with no row lost or published twice. Around
// each reload syncd tells systemd RELOADING=1 (with MONOTONIC_USEC) and
// READY=1.
func TestReload(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", `CREATE TABLE item (id int PRIMARY KEY, name text)`, `CREATE TABLE orders (id int PRIMARY KEY, total int)`,
		`INSERT INTO orders SELECT g, g FROM generate_series(1, 3) g`)
	items := fmt.Sprintf("source \"postgres\" \"app\" { dsn = %q }\nscope \"items\" {\n  source   = \"app\"\n  snapshot = \"never\"\n  table \"public.item\" {}\n}\n", dsn)
	d := newDaemon(t, items)
	notify := listenNotify(t)
	d.Env = []string{"NOTIFY_SOCKET=" + notify.addr}
	d.Start()
	notify.expect(t, d, `^READY=1$`)
	nc := connect(t, d)
	conn := pgConnect(t, dsn)
	pg.Exec(t, "app", `INSERT INTO item VALUES (1, 'one')`)
	waitCount(t, nc, "items", 1, time.Minute)

	t.Run("invalid config is rejected", func(t *testing.T) {
		streams, scopeRev, slot := streamNames(t, nc), scopeRevision(t, nc, "items"), slotState(t, conn)
		// Line 4 of the body, column 3: the file's line 4+HeaderLines.
		d.Rewrite(strings.Replace(items, "snapshot =", "snapshott =", 1))
		d.Signal(syscall.SIGHUP)
		notify.expect(t, d, `^RELOADING=1\nMONOTONIC_USEC=[0-9]+$`)
		notify.expect(t, d, `^READY=1\nSTATUS=config reload rejected$`)
		rl := reloadState(t, d)
		diag := fmt.Sprintf("%s:%d:3: error: Unsupported argument", d.ConfigPath, 4+testenv.HeaderLines)
		if rl.Outcome != "rejected" || rl.Generation != 1 || len(rl.Diagnostics) != 1 || !strings.HasPrefix(rl.Diagnostics[0], diag) {
			t.Errorf("/scopes reload = %+v, want rejected, generation 1, one diagnostic %s...", rl, diag)
		}
		if !strings.Contains(d.Logs(), diag) {
			t.Errorf("the log lacks the diagnostic %s", diag)
		}
		if m := get(t, d.AdminURL+"/metrics"); !strings.Contains(m, "\nsyncd_config_reload_failures_total 1\n") {
			t.Errorf("/metrics lacks syncd_config_reload_failures_total 1")
		}
		// The old config keeps running, with nothing restarted: the same
		// streams, scope record, slot and walsender.
		pg.Exec(t, "app", `INSERT INTO item VALUES (2, 'two')`)
		waitCount(t, nc, "items", 2, time.Minute)
		if got := streamNames(t, nc); !slices.Equal(got, streams) {
			t.Errorf("streams %v after the rejected reload, want %v", got, streams)
		}
		if got := scopeRevision(t, nc, "items"); got != scopeRev {
			t.Errorf("scope record of items at revision %d after the rejected reload, want %d", got, scopeRev)
		}
		if got := slotState(t, conn); got != slot {
			t.Errorf("replication slots %s after the rejected reload, want %s", got, slot)
		}
	})

	t.Run("valid config is applied", func(t *testing.T) {
		// A second scope, whose table's rows are copied first.
		d.Rewrite(items + "scope \"orders\" {\n  source   = \"app\"\n  snapshot = \"initial\"\n  table \"public.orders\" {}\n}\n")
		written := writeItems(t, conn, 3)
		d.Signal(syscall.SIGHUP)
		notify.expect(t, d, `^RELOADING=1\nMONOTONIC_USEC=[0-9]+$`)
		notify.expect(t, d, `^READY=1\nSTATUS=config reload applied$`)
		if rl := reloadState(t, d); rl.Outcome != "applied" || rl.Generation != 2 || len(rl.Diagnostics) != 0 {
			t.Errorf("/scopes reload = %+v, want applied, generation 2, no diagnostics", rl)
		}
		// Copied or streamed, each row of orders once.
		pg.Exec(t, "app", `INSERT INTO orders VALUES (4, 4)`)
		waitRows(t, nc, "orders", "1 2 3 4")
		n := written()
		t.Logf("%d rows written to item around the reload", n)
		// Every row written before, during and after the reload, once.
		waitCount(t, nc, "items", uint64(2+n), time.Minute)
		waitReady(t, d, time.Minute)
	})

	t.Run("config that cannot start is rolled back", func(t *testing.T) {
		d.Rewrite(items + "scope \"missing\" {\n  source   = \"app\"\n  snapshot = \"never\"\n  table \"public.missing\" {}\n}\n")
		d.Signal(syscall.SIGHUP)
		notify.expect(t, d, `^RELOADING=1\nMONOTONIC_USEC=[0-9]+$`)
		notify.expect(t, d, `^READY=1\nSTATUS=config reload failed$`)
		rl := reloadState(t, d)
		if rl.Outcome != "failed" || rl.Generation != 2 || len(rl.Diagnostics) != 1 || !strings.Contains(rl.Diagnostics[0], "public.missing") {
			t.Errorf("/scopes reload = %+v, want failed, generation 2, one diagnostic naming public.missing", rl)
		}
		if m := get(t, d.AdminURL+"/metrics"); !strings.Contains(m, "\nsyncd_config_reload_failures_total 2\n") {
			t.Errorf("/metrics lacks syncd_config_reload_failures_total 2")
		}
		// The previous config runs again.
		n, err := streamCount(t, nc, "items")
		if err != nil {
			t.Fatal(err)
		}
		pg.Exec(t, "app", `INSERT INTO item VALUES (100000, 'after')`, `INSERT INTO orders VALUES (5, 5)`)
		waitCount(t, nc, "items", n+1, time.Minute)
		waitRows(t, nc, "orders", "1 2 3 4 5")
		waitReady(t, d, time.Minute)
	})

	if code := d.Stop(); code != 0 {
		t.Errorf("syncd exited with %d, want 0", code)
	}
}

// waitRows waits until the row messages of a scope's stream carry the
// keys ids, space-separated, in that order.
func waitRows(t *testing.T, nc *nats.Conn, scope, ids string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		if _, err := streamCount(t, nc, scope); err != nil {
			return err
		}
		var got []string
		for _, m := range readRows(t, nc, scope) {
			if m.Env.Op != "t" {
				got = append(got, fmt.Sprint(m.Env.Key["id"]))
			}
		}
		if g := strings.Join(got, " "); g != ids {
			return fmt.Errorf("rows of %s have ids %s, want %s", scope, g, ids)
		}
		return nil
	})
}

// notifySocket is a socket that receives sd_notify messages, as systemd's
// NOTIFY_SOCKET does.
type notifySocket struct {
	addr string
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{addr: addr, msgs: make(chan string, 100)}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case n.msgs <- string(buf[:k]):
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); conn.Close(); <-done })
	return n
}

// expect checks that the next message d sends matches re.
func (n *notifySocket) expect(t *testing.T, d *testenv.Syncd, re string) {
	t.Helper()
	select {
	case msg := <-n.msgs:
		if !regexp.MustCompile(re).MatchString(msg) {
			t.Fatalf("sd_notify message %q, want one matching %s", msg, re)
		}
	case <-d.Exited():
		t.Fatalf("syncd exited instead of sending an sd_notify message matching %s", re)
	case <-time.After(time.Minute):
		t.Fatalf("no sd_notify message matching %s within a minute", re)
	}
}

// reloadDoc is the reload object of /scopes.
type reloadDoc struct {
	Generation  int      `json:"generation"`
	ConfigHash  string   `json:"config_hash"`
	Outcome     string   `json:"outcome"`
	Diagnostics []string `json:"diagnostics"`
}

func reloadState(t *testing.T, d *testenv.Syncd) reloadDoc {
	t.Helper()
	var doc struct {
		Reload reloadDoc `json:"reload"`
	}
	if err := json.Unmarshal([]byte(get(t, d.AdminURL+"/scopes")), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Reload
}

// streamNames lists the streams of the daemon's NATS server.
func streamNames(t *testing.T, nc *nats.Conn) []string {
	t.Helper()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var names []string
	l := js.StreamNames(ctx)
	for name := range l.Name() {
		names = append(names, name)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// scopeRevision returns the revision of a scope's entry in the scope
// bucket: it changes when the scope is recorded again.
func scopeRevision(t *testing.T, nc *nats.Conn, scope string) uint64 {
	t.Helper()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, router.ScopeBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, scope)
	if err != nil {
		t.Fatalf("read scope %s: %v", scope, err)
	}
	return e.Revision()
}

// slotState lists the replication slots with the process reading each.
func slotState(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var s string
	err := conn.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(slot_name || ':' || coalesce(active_pid::text, '-'), ',' ORDER BY slot_name), '') FROM pg_replication_slots`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeItems inserts rows into item, ids first, first+1..., one
// transaction each, until the function it returns is called or the test
// ends; that function returns how many it inserted. It stops early after
// an error, failing the test.
func writeItems(t *testing.T, conn *pgx.Conn, first int) func() int {
	stop := make(chan struct{})
	halt := sync.OnceFunc(func() { close(stop) })
	var wg sync.WaitGroup
	n := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := conn.Exec(context.Background(), `INSERT INTO item VALUES ($1, 'r')`, first+n); err != nil {
				t.Errorf("insert item %d: %v", first+n, err)
				return
			}
			n++
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { halt(); wg.Wait() })
	return func() int {
		halt()
		wg.Wait()
		return n
	}
}
