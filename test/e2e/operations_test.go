package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestOperations covers what an operator relies on: metrics, readiness
// that follows the source (and its scope's publishing) down and back up (syncd reconnects by itself,
// nothing lost), and `syncd tail --from-now`.
func TestOperations(t *testing.T) {
	pg := testenv.StartPostgres(t)
	_, d := oneScope(t, pg, `CREATE TABLE item (id int PRIMARY KEY, name text)`, "items", "public.item")
	d.Start()
	nc := connect(t, d)
	pg.Exec(t, "app", `INSERT INTO item SELECT g, 'n' || g FROM generate_series(1, 5) g`, `UPDATE item SET name = 'x' WHERE id = 1`)
	waitCount(t, nc, "items", 6, time.Minute)

	// Metrics: events by scope, table and op; publish latency; in-flight
	// messages; the slot's retained WAL.
	metrics := get(t, d.AdminURL+"/metrics")
	for _, want := range []string{
		`syncd_events_published_total{op="c",scope="items",table="public.item"} 5`,
		`syncd_events_published_total{op="u",scope="items",table="public.item"} 1`,
		`syncd_publish_latency_seconds_count{scope="items"}`,
		`syncd_inflight_messages{scope="items"} 0`,
		`syncd_source_retained_wal_bytes{source="app"}`,
		`syncd_source_confirmed_position{source="app"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The embedded server fsyncs every write: no durability warning.
	if scopes := get(t, d.AdminURL+"/scopes"); !strings.Contains(scopes, `"name": "items"`) || !strings.Contains(scopes, `"messages": 6`) ||
		strings.Contains(scopes, "durability_risk") {
		t.Errorf("/scopes:\n%s", scopes)
	}

	// tail --from-now prints only what comes after it started.
	tail := exec.Command(syncdBin, "tail", "--nats", d.NATSURL, "--from-now", "--count", "1", "items")
	out, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		s.Buffer(nil, 1<<20)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		// Wait until the tail's consumer exists before writing.
		if n := consumers(t, nc, "SYNCD_ITEMS"); n == 0 {
			return fmt.Errorf("no consumer yet")
		}
		return nil
	})
	pg.Exec(t, "app", `INSERT INTO item VALUES (6, 'six')`)
	select {
	case line := <-lines:
		if !strings.Contains(line, `"after":{"id":6,"name":"six"}`) {
			t.Fatalf("tail --from-now printed %s, want the row inserted after it started", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tail --from-now printed nothing")
	}
	if err := tail.Wait(); err != nil {
		t.Fatalf("tail: %v", err)
	}

	// The source goes away: readiness says so with a typed cause, and
	// the scope no longer publishes: /scopes shows no publishing state of
	// the session that ended...
	pg.Stop(t)
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		code, body := getStatus(t, d.AdminURL+"/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"source_disconnected"`) {
			return fmt.Errorf("/readyz %d %s", code, body)
		}
		return nil
	})
	waitNotReady(t, d, "scope/items", "scope_not_publishing")
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		if scopes := get(t, d.AdminURL+"/scopes"); strings.Contains(scopes, `"publishing"`) {
			return fmt.Errorf("/scopes shows a scope publishing while its source is down:\n%s", scopes)
		}
		return nil
	})
	// ...and when it is back, syncd reconnects by itself and loses nothing
	// written meanwhile.
	pg.Start(t)
	pg.Exec(t, "app", `INSERT INTO item VALUES (7, 'seven')`)
	waitReady(t, d, 2*time.Minute)
	waitCount(t, nc, "items", 8, time.Minute)
}

// TestExternalNATS runs syncd against a NATS server it does not embed,
// one that requires a user and password. With one replica per stream,
// syncd warns that a power loss of that server may lose acknowledged
// messages. `syncd tail --config` needs only the NATS settings: it runs
// without the source's DSN in its environment.
func TestExternalNATS(t *testing.T) {
	srv := testenv.StartNATS(t, testenv.WithUser("syncd", "s3cret"))
	pg := testenv.StartPostgres(t)
	dsn, d := oneScope(t, pg, `CREATE TABLE item (id int PRIMARY KEY, name text)`, "items", "public.item")
	// The daemon's config has an embedded nats block; point it elsewhere.
	setBlock(t, d, "nats", fmt.Sprintf(`nats {
  url      = %q
  user     = "syncd"
  password = env("TEST_NATS_PASSWORD")
}`, srv.URL))
	writeFile(t, d.ConfigPath, strings.Replace(readFile(t, d.ConfigPath), fmt.Sprintf("dsn = %q", dsn), `dsn = env("TEST_APP_DSN")`, 1))
	t.Setenv("TEST_NATS_PASSWORD", "s3cret")
	t.Setenv("TEST_APP_DSN", dsn)
	d.Start()
	pg.Exec(t, "app", `INSERT INTO item VALUES (1, 'one'), (2, 'two')`)
	waitCount(t, srv.Connect(t), "items", 2, time.Minute)

	const risk = `unless its jetstream block sets sync_interval: always`
	if scopes := get(t, d.AdminURL+"/scopes"); !strings.Contains(scopes, `"durability_risk": "streams have one replica`) || !strings.Contains(scopes, risk) {
		t.Errorf("/scopes lacks the durability risk:\n%s", scopes)
	}
	if logs := d.Logs(); !strings.Contains(logs, "acknowledged messages may not survive a power loss of the nats server") || !strings.Contains(logs, risk) {
		t.Error("the log lacks the durability warning")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tail := exec.CommandContext(ctx, syncdBin, "tail", "--config", d.ConfigPath, "--count", "2", "items")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEST_APP_DSN=") {
			tail.Env = append(tail.Env, kv)
		}
	}
	out, err := tail.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"after":{"id":1,"name":"one"}`) || !strings.Contains(string(out), `"after":{"id":2,"name":"two"}`) {
		t.Fatalf("syncd tail --config without the source DSN: %v\n%s", err, out)
	}
}

// setBlock replaces the block of type typ (nats, admin) of a daemon's
// config.
func setBlock(t *testing.T, d *testenv.Syncd, typ, block string) {
	t.Helper()
	cfg := readFile(t, d.ConfigPath)
	re := regexp.MustCompile(`(?m)^` + typ + `\s*\{[^}]*\}`)
	if !re.MatchString(cfg) {
		t.Fatalf("no %s block in\n%s", typ, cfg)
	}
	writeFile(t, d.ConfigPath, re.ReplaceAllLiteralString(cfg, block))
}

func get(t *testing.T, url string) string {
	t.Helper()
	code, body := getStatus(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	return body
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func consumers(t *testing.T, nc *nats.Conn, stream string) int {
	t.Helper()
	js, _ := nc.JetStream()
	info, err := js.StreamInfo(stream, nats.Context(context.Background()))
	if err != nil {
		return 0
	}
	return info.State.Consumers
}
