package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestOperatorSurface checks what README's Guarantees and Operations
// promise an operator and no other test shows, with one daemon on an
// external NATS server and one PostgreSQL cluster: a bad config stops
// `syncd run` before it creates anything on the server, and `syncd
// validate` reports every problem without connecting; `syncd version`
// and `syncd scopes`; every /metrics family; JSON logs from named
// loggers; readiness following NATS down and back; a source that fails
// for good stops alone while the other goes on; SIGINT drains, confirms
// and exits 0; and logs are text on a terminal.
func TestOperatorSurface(t *testing.T) {
	pg := testenv.StartPostgres(t)
	appDSN, otherDSN, replicaDSN := pg.CreateDB(t, "app"), pg.CreateDB(t, "other"), pg.CreateDB(t, "replica")
	pg.Exec(t, "app", `CREATE TABLE item (id int PRIMARY KEY, name text)`,
		`INSERT INTO item SELECT g, 'n' || g FROM generate_series(1, 1500) g`) // past the first progress report
	pg.Exec(t, "other", `CREATE TABLE note (id int PRIMARY KEY)`)
	// The target refuses name 'bad', so a row is parked.
	pg.Exec(t, "replica", `CREATE TABLE item (id int PRIMARY KEY, name text CHECK (name <> 'bad'))`)

	// Bad config: exit 1, every diagnostic, and nothing created on the
	// server although the source is there to connect to.
	bad := newDaemon(t, fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
scope "s" {
  source   = "app"
  snapshot = "sometimes"
  table "public.item" { where = "id >> 1" }
}`, appDSN))
	for _, cmd := range []string{"validate", "run"} {
		code, out := runSyncd(t, cmd, "--config", bad.ConfigPath)
		snapshotLine, whereLine := lineOf(t, bad.ConfigPath, `snapshot = "sometimes"`), lineOf(t, bad.ConfigPath, `id >> 1`)
		if code != 1 || !regexp.MustCompile(fmt.Sprintf(`syncd\.hcl:%d:\d+: error: Invalid snapshot`, snapshotLine)).MatchString(out) ||
			!regexp.MustCompile(fmt.Sprintf(`syncd\.hcl:%d:\d+: error: `, whereLine)).MatchString(out) {
			t.Errorf("syncd %s with two mistakes: exit %d, want 1 and both diagnostics:\n%s", cmd, code, out)
		}
	}
	appConn := pgConnect(t, appDSN)
	var pubs, slots int
	if err := appConn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_replication_slots)`).Scan(&pubs, &slots); err != nil {
		t.Fatal(err)
	}
	if pubs != 0 || slots != 0 {
		t.Fatalf("after syncd run with a bad config: %d publications, %d slots; want none", pubs, slots)
	}
	// validate connects nowhere: a source no server answers is fine.
	nowhere := newDaemon(t, `
source "postgres" "app" { dsn = "postgres://syncd@127.0.0.1:1/app?connect_timeout=1" }
scope "s" {
  source = "app"
  table "public.item" {}
}`)
	if code, out := runSyncd(t, "validate", "--config", nowhere.ConfigPath); code != 0 || !strings.Contains(out, "ok (1 sources, 0 targets, 1 scopes)") {
		t.Errorf("syncd validate of a config whose source is unreachable: exit %d, want 0:\n%s", code, out)
	}

	srv := testenv.StartNATS(t)
	d := testenv.NewSyncdExternalNATS(t, syncdBin, srv.URL, fmt.Sprintf(`
source "postgres" "app"   { dsn = %q }
source "postgres" "other" { dsn = %q }
target "postgres" "replica" {
  dsn           = %q
  create_tables = true
}
scope "items" {
  source         = "app"
  targets        = ["replica"]
  on_apply_error = "dlq"
  table "public.item" {}
}
scope "notes" {
  source   = "other"
  snapshot = "never"
  table "public.note" {}
}`, appDSN, otherDSN, replicaDSN))
	d.Start()
	// The changes below come after the snapshot's copy: wait for it.
	applied := []string{`SELECT * FROM item WHERE name <> 'bad' ORDER BY id`}
	waitIdentical(t, &replication{srcDSN: appDSN, dstDSN: replicaDSN}, time.Minute, applied, applied)
	pg.Exec(t, "app", `INSERT INTO item VALUES (2001, 'bad')`, `INSERT INTO item VALUES (2002, 'two'), (2003, 'three')`, `UPDATE item SET name = 'x' WHERE id = 1`)
	pg.Exec(t, "other", `INSERT INTO note VALUES (1)`)
	waitIdentical(t, &replication{srcDSN: appDSN, dstDSN: replicaDSN}, time.Minute, applied, applied)
	nc := srv.Connect(t)
	waitCount(t, nc, "notes", 1, time.Minute)

	// syncd version prints the version the daemon writes into scope_info.
	code, out := runSyncd(t, "version")
	m := regexp.MustCompile(`^syncd (\S+)\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("syncd version: exit %d, output %q; want 0 and \"syncd VERSION\"", code, out)
	}
	var recorded string
	if err := pgConnect(t, replicaDSN).QueryRow(context.Background(), `SELECT syncd_version FROM syncd_scope_info WHERE scope = 'items'`).Scan(&recorded); err != nil || recorded != m[1] {
		t.Errorf("scope_info says syncd_version %q (%v), syncd version says %q", recorded, err, m[1])
	}

	// Every family README lists under /metrics.
	testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, func() error {
		metrics := get(t, d.AdminURL+"/metrics")
		var missing []string
		for _, want := range []string{
			`syncd_events_published_total{op="c",scope="items",table="public.item"} 3`,
			`syncd_publish_latency_seconds_count{scope="items"}`,
			`syncd_inflight_messages{scope="items"} 0`,
			`syncd_source_retained_wal_bytes{source="app"}`,
			`syncd_source_confirmed_position{source="app"}`,
			`syncd_snapshot_rows{scope="items",source="app",table="public.item"} 1500`,
			`syncd_snapshot_rows_estimated{scope="items",source="app",table="public.item"}`,
			`syncd_apply_rows_total{op="r",scope="items",target="replica"} 1500`,
			`syncd_apply_txn_seconds_count{scope="items",target="replica"}`,
			`syncd_apply_lag_seconds{scope="items",target="replica"}`,
			`syncd_apply_behind_messages{scope="items",target="replica"} 0`,
			`syncd_apply_parked_rows_total{scope="items",target="replica"} 1`,
		} {
			if !strings.Contains(metrics, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("/metrics lacks\n%s", strings.Join(missing, "\n"))
		}
		return nil
	})
	if code, body := getStatus(t, d.AdminURL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}

	// syncd scopes prints the running daemon's /scopes document.
	code, out = runSyncd(t, "scopes", "--config", d.ConfigPath)
	if code != 0 {
		t.Fatalf("syncd scopes: exit %d\n%s", code, out)
	}
	if got, want := scopesSummary(t, out), scopesSummary(t, get(t, d.AdminURL+"/scopes")); got != want ||
		!strings.Contains(got, "source app streaming") || !regexp.MustCompile(`scope items stream SYNCD_ITEMS \(\d+ messages\) target replica applying`).MatchString(got) {
		t.Errorf("syncd scopes printed\n%s\nGET /scopes holds\n%s", got, want)
	}
	// On a terminal it prints a table instead, redrawn with --watch
	// until SIGTERM; --json keeps the document.
	text := runOnTerminal(t, regexp.MustCompile(`(?m)^items +publishing +replica +applying +\S+ +\d+ +1 *$`), "scopes", "--watch", "--config", d.ConfigPath)
	if !regexp.MustCompile(`(?m)^app +postgres +streaming`).MatchString(text) || strings.Contains(text, `"scopes"`) {
		t.Errorf("syncd scopes on a terminal printed\n%s", text)
	}
	runOnTerminal(t, regexp.MustCompile(`(?m)^\{\n +"nats": \{`), "scopes", "--json", "--watch", "--config", d.ConfigPath)

	// NATS goes away: readiness says so; when it is back, syncd goes on.
	srv.Shutdown()
	waitNotReady(t, d, "nats", "nats_disconnected")
	srv.Restart(t)
	waitReady(t, d, 2*time.Minute)

	// Logs are JSON (stderr is not a terminal), from one named logger per
	// component.
	modules := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(d.Logs()), "\n") {
		var entry struct {
			Level   string `json:"@level"`
			Message string `json:"@message"`
			Module  string `json:"@module"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil || entry.Level == "" || entry.Message == "" {
			t.Fatalf("log line is not an hclog JSON entry (%v): %s", err, line)
		}
		modules[entry.Module] = true
	}
	for _, want := range []string{"syncd", "syncd.capture.postgres", "syncd.router", "syncd.apply", "syncd.nats"} {
		if !modules[want] {
			t.Errorf("no log entry from logger %s; loggers seen: %v", want, modules)
		}
	}

	// A source that fails for good (its table dropped) stops alone: the
	// other streams on, and readiness names the failed one.
	pg.Exec(t, "other", `DROP TABLE note`)
	pg.Exec(t, "app", `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'syncd_other' AND active_pid IS NOT NULL`)
	waitNotReady(t, d, "source/other", "source_failed")
	pg.Exec(t, "app", `INSERT INTO item VALUES (2004, 'four')`)
	waitIdentical(t, &replication{srcDSN: appDSN, dstDSN: replicaDSN}, time.Minute, applied, applied)
	code, body := getStatus(t, d.AdminURL+"/readyz")
	if strings.Contains(body, `"source/app"`) || !strings.Contains(body, `public.note`) {
		t.Errorf("/readyz %d %s: want source/other failed naming public.note, source/app not named", code, body)
	}

	// SIGINT, as SIGTERM: drain, confirm the final position, exit 0.
	pg.Exec(t, "app", `INSERT INTO item VALUES (2005, 'five')`)
	waitCount(t, nc, "items", 1+2+6, time.Minute) // the snapshot's truncate, its 1,500 rows in two messages, six changes
	end := currentLSN(t, appConn)
	if err := d.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Exited():
	case <-time.After(time.Minute):
		t.Fatal("syncd did not stop within a minute of SIGINT")
	}
	if code := d.Stop(); code != 0 {
		t.Fatalf("syncd exit code after SIGINT = %d, want 0", code)
	}
	// The slot takes the confirmation a moment after syncd sent it; nothing
	// else confirms once syncd has exited.
	waitConfirmed(t, appConn, end, 10*time.Second)

	// On a terminal, logs are text: hclog's "TIME [LEVEL]  logger: message".
	text = runOnTerminal(t, regexp.MustCompile(`(?m)^\S+ \[WARN\] +syncd\.capture\.postgres: source not reachable yet`), "run", "--config", nowhere.ConfigPath)
	if regexp.MustCompile(`(?m)^\{`).MatchString(text) {
		t.Errorf("syncd run on a terminal wrote JSON:\n%s", text)
	}
}

// scopesSummary reduces a /scopes document to what does not change while
// syncd is idle: each source's state, and each scope's stream and apply
// workers' states.
func scopesSummary(t *testing.T, doc string) string {
	t.Helper()
	var s struct {
		Sources []struct{ Name, State string }
		Scopes  []struct {
			Name   string
			Stream *struct {
				Stream   string
				Messages uint64
			}
			Apply []struct{ Target, State string }
		}
	}
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		t.Fatalf("/scopes document: %v\n%s", err, doc)
	}
	var lines []string
	for _, src := range s.Sources {
		lines = append(lines, fmt.Sprintf("source %s %s", src.Name, src.State))
	}
	for _, sc := range s.Scopes {
		line := "scope " + sc.Name
		if sc.Stream != nil {
			line += fmt.Sprintf(" stream %s (%d messages)", sc.Stream.Stream, sc.Stream.Messages)
		}
		for _, a := range sc.Apply {
			line += fmt.Sprintf(" target %s %s", a.Target, a.State)
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
