// Package e2e runs the syncd binary against throwaway PostgreSQL servers
// and checks what lands in JetStream, as a user of the daemon would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

var syncdBin string

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

// run finds the syncd binary (SYNCD_BIN, as make sets it) or builds one.
func run(m *testing.M) (int, error) {
	syncdBin = os.Getenv("SYNCD_BIN")
	if syncdBin == "" {
		dir, err := os.MkdirTemp("", "syncd-e2e-bin-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		syncdBin = filepath.Join(dir, "syncd")
		out, err := exec.Command("go", "build", "-o", syncdBin, "github.com/syncd-dev/syncd/cmd/syncd").CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("build syncd: %v\n%s", err, out)
		}
	}
	return m.Run(), nil
}

// daemon is a running `syncd run` process with the embedded NATS server.
type daemon struct {
	t        *testing.T
	dir      string // holds the config and data_dir
	natsPort int
	admin    string
	cmd      *exec.Cmd
	done     chan struct{}
	mu       sync.Mutex
	log      bytes.Buffer
}

// newDaemon writes a config from the given HCL body (sources and scopes)
// plus a nats, admin and data_dir section on free ports.
func newDaemon(t *testing.T, body string) *daemon {
	t.Helper()
	d := &daemon{t: t, dir: t.TempDir(), natsPort: testenv.FreePort(t)}
	d.admin = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := fmt.Sprintf(`
data_dir = %q
nats  { listen = "127.0.0.1:%d" }
admin { listen = %q }
%s`, filepath.Join(d.dir, "data"), d.natsPort, d.admin, body)
	if err := os.WriteFile(d.configPath(), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("syncd log:\n%s", d.logText())
		}
	})
	return d
}

func (d *daemon) configPath() string { return filepath.Join(d.dir, "syncd.hcl") }

// start runs `syncd run` and waits until /readyz says ready.
func (d *daemon) start() {
	d.t.Helper()
	d.cmd = exec.Command(syncdBin, "run", "--config", d.configPath(), "--log-level", "debug")
	d.cmd.Stdout, d.cmd.Stderr = d.logWriter(), d.logWriter()
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start syncd: %v", err)
	}
	done := make(chan struct{})
	d.done = done
	go func(cmd *exec.Cmd) { cmd.Wait(); close(done) }(d.cmd)
	testenv.Eventually(d.t, 60*time.Second, 100*time.Millisecond, func() error {
		select {
		case <-done:
			d.t.Fatalf("syncd exited during start-up: %v\n%s", d.cmd.ProcessState, d.logText())
		default:
		}
		resp, err := http.Get("http://" + d.admin + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("not ready: %s", b)
		}
		return nil
	})
}

// kill sends SIGKILL and waits for the process to go.
func (d *daemon) kill() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// stop sends SIGTERM and returns the exit code.
func (d *daemon) stop() int {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.t.Fatal("syncd did not stop within 60s of SIGTERM")
	}
	return d.cmd.ProcessState.ExitCode()
}

type lockedWriter struct{ d *daemon }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.log.Write(p)
}

func (d *daemon) logWriter() io.Writer { return lockedWriter{d} }

func (d *daemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// connect opens a NATS connection to the daemon's embedded server.
func (d *daemon) connect() *nats.Conn {
	d.t.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", d.natsPort))
	if err != nil {
		d.t.Fatalf("connect to syncd's nats: %v", err)
	}
	d.t.Cleanup(nc.Close)
	return nc
}

// streamCount returns how many messages a scope's stream holds.
func streamCount(t *testing.T, nc *nats.Conn, scope string) (uint64, error) {
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, router.StreamName(scope))
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.Msgs, nil
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

// readStream returns every message of a scope's stream, in order.
func readStream(t *testing.T, nc *nats.Conn, scope string) []streamed {
	t.Helper()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, router.StreamName(scope))
	if err != nil {
		t.Fatalf("open stream of %s: %v", scope, err)
	}
	total := s.CachedInfo().State.Msgs
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
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
			env, err := router.Decode(m.Data())
			if err != nil {
				t.Fatalf("message on %s: %v", m.Subject(), err)
			}
			out = append(out, streamed{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Env: env})
		}
		if err := batch.Error(); err != nil {
			t.Fatalf("fetch from %s: %v", scope, err)
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
