// Package e2e runs the syncd binary against throwaway PostgreSQL servers
// and checks what lands in JetStream, as a user of the daemon would.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

var syncdBin string

func TestMain(m *testing.M) {
	bin, err := testenv.SyncdBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	syncdBin = bin
	os.Exit(m.Run())
}

// newDaemon prepares a syncd process whose config is body (sources and
// scopes) plus nats, admin and data_dir settings on free ports.
func newDaemon(t *testing.T, body string) *testenv.Syncd {
	t.Helper()
	return testenv.NewSyncd(t, syncdBin, body)
}

// connect opens a NATS connection to a daemon's embedded server.
func connect(t *testing.T, d *testenv.Syncd) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(d.NATSURL)
	if err != nil {
		t.Fatalf("connect to syncd's nats: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// openStream opens a stream of a daemon's NATS server.
func openStream(t *testing.T, d *testenv.Syncd, name string) jetstream.Stream {
	t.Helper()
	js, err := jetstream.New(connect(t, d))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("open stream %s: %v", name, err)
	}
	return s
}

// scopeStream opens the stream that holds a scope's messages: its own, or
// the one its template's spokes share, found by subject.
func scopeStream(ctx context.Context, nc *nats.Conn, scope string) (jetstream.Stream, error) {
	js, _ := jetstream.New(nc)
	name, err := js.StreamNameBySubject(ctx, router.ReservedSubject(scope, router.TokenBatch))
	if err != nil {
		return nil, fmt.Errorf("find stream of %s: %w", scope, err)
	}
	return js.Stream(ctx, name)
}

// streamCount returns how many messages of a scope its stream holds.
func streamCount(t *testing.T, nc *nats.Conn, scope string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := scopeStream(ctx, nc, scope)
	if err != nil {
		return 0, err
	}
	if s.CachedInfo().Config.Name == router.StreamName(scope) {
		return s.CachedInfo().State.Msgs, nil
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(router.RowSubjects(scope)))
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// waitCount waits until a scope's stream holds exactly want messages.
func waitCount(t *testing.T, nc *nats.Conn, scope string, want uint64, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, 200*time.Millisecond, func() error {
		n, err := streamCount(t, nc, scope)
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("stream of %s holds %d messages, want %d", scope, n, want)
		}
		return nil
	})
}

// streamed is one stored message.
type streamed struct {
	Subject string
	Header  nats.Header
	Data    []byte
	Env     *router.Envelope
}

// readStream returns every message of a scope's stream, in order; Env is
// nil for a packed message (see readRows).
func readStream(t *testing.T, nc *nats.Conn, scope string) []streamed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := scopeStream(ctx, nc, scope)
	if err != nil {
		t.Fatalf("open stream of %s: %v", scope, err)
	}
	total, err := streamCount(t, nc, scope)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{router.RowSubjects(scope)}})
	if err != nil {
		t.Fatal(err)
	}
	var out []streamed
	for uint64(len(out)) < total {
		batch, err := cons.Fetch(int(min(total-uint64(len(out)), 1000)), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatalf("fetch from %s: %v", scope, err)
		}
		for m := range batch.Messages() {
			var env *router.Envelope
			if !router.IsPack(m.Data()) { // readRows decodes packed messages
				var err error
				if env, err = router.Decode(m.Data()); err != nil {
					t.Fatalf("message on %s: %v", m.Subject(), err)
				}
			}
			out = append(out, streamed{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Env: env})
		}
		if err := batch.Error(); err != nil {
			t.Fatalf("fetch from %s: %v", scope, err)
		}
	}
	return out
}

// readRows returns every row of a scope's stream, in order: one entry for
// each row of a packed message (a snapshot's, or a scope's with
// rows_per_message above 1), with that message's subject and headers.
func readRows(t *testing.T, nc *nats.Conn, scope string) []streamed {
	t.Helper()
	var out []streamed
	for _, m := range readStream(t, nc, scope) {
		if !router.IsPack(m.Data) {
			out = append(out, m)
			continue
		}
		envs, err := router.DecodeAll(m.Data)
		if err != nil {
			t.Fatalf("message on %s: %v", m.Subject, err)
		}
		for _, env := range envs {
			out = append(out, streamed{Subject: m.Subject, Header: m.Header, Data: m.Data, Env: env})
		}
	}
	return out
}

// runSyncd runs a syncd command to completion and returns its exit code
// and combined output.
func runSyncd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, syncdBin, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("run syncd %s: %v", strings.Join(args, " "), err)
	}
	return 0, string(out)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// oneScope creates database "app" on pg with ddl and prepares syncd with
// source "app" and a scope of that name covering the given tables,
// streaming only (no initial snapshot).
func oneScope(t *testing.T, pg *testenv.Postgres, ddl, scope string, tables ...string) (string, *testenv.Syncd) {
	t.Helper()
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", ddl)
	var blocks strings.Builder
	for _, tb := range tables {
		fmt.Fprintf(&blocks, "  table %q {}\n", tb)
	}
	return dsn, newDaemon(t, fmt.Sprintf("source \"postgres\" \"app\" { dsn = %q }\nscope %q {\n  source = \"app\"\n  snapshot = \"never\"\n%s}\n", dsn, scope, blocks.String()))
}

// lineOf returns the number of the first line of the file at path that
// contains s, for checking the positions diagnostics name.
func lineOf(t *testing.T, path, s string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line containing %q", path, s)
	return 0
}
