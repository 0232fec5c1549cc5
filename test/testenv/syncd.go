package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Syncd is a `syncd run` process with its embedded NATS server, configured
// with free ports and a data directory that survives restarts.
type Syncd struct {
	Dir        string // holds the config and the data directory
	ConfigPath string
	NATSURL    string // the embedded server, for subscribers
	AdminURL   string // http://host:port
	LogLevel   string // --log-level of the next start; empty means debug
	// Env is added to the environment of the next start, as KEY=value.
	Env     []string
	Started time.Time

	t      TB
	bin    string
	header string // the config's nats, admin and data_dir settings
	cmd    *exec.Cmd
	done   chan struct{}
	mu     sync.Mutex
	logs   bytes.Buffer
}

// NewSyncd writes a config made of body (sources, targets, scopes) plus
// nats, admin (with pprof, for the benchmarks) and data_dir settings. It
// starts nothing; the process is killed when the test ends, and its log
// printed if the test failed.
func NewSyncd(t TB, bin, body string) *Syncd {
	t.Helper()
	dir := t.TempDir()
	natsPort, adminPort := FreePort(t), FreePort(t)
	s := &Syncd{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "syncd.hcl"),
		NATSURL:    fmt.Sprintf("nats://127.0.0.1:%d", natsPort),
		AdminURL:   fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		t:          t,
		bin:        bin,
	}
	s.header = fmt.Sprintf("data_dir = %q\nnats  { listen = \"127.0.0.1:%d\" }\nadmin {\n  listen = \"127.0.0.1:%d\"\n  pprof  = true\n}\n",
		filepath.Join(dir, "data"), natsPort, adminPort)
	s.Rewrite(body)
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("syncd log:\n%s", s.Logs())
		}
	})
	return s
}

// Rewrite replaces the config's body (sources, targets, scopes) and keeps
// its nats, admin and data_dir settings. The header's lines come first:
// the body's line n is the file's line n+HeaderLines.
func (s *Syncd) Rewrite(body string) {
	s.t.Helper()
	if err := os.WriteFile(s.ConfigPath, []byte(s.header+body), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// HeaderLines is how many lines of the config come before the body.
const HeaderLines = 6

// Start runs syncd and waits until /readyz answers 200.
func (s *Syncd) Start() {
	s.t.Helper()
	s.start("/readyz")
}

// StartAlive runs syncd and waits until /healthz answers 200, for a
// daemon that cannot become ready.
func (s *Syncd) StartAlive() {
	s.t.Helper()
	s.start("/healthz")
}

// start runs syncd and waits until the admin endpoint path answers 200.
func (s *Syncd) start(path string) {
	s.t.Helper()
	level := s.LogLevel
	if level == "" {
		level = "debug"
	}
	s.cmd = exec.Command(s.bin, "run", "--config", s.ConfigPath, "--log-level", level)
	if len(s.Env) > 0 {
		s.cmd.Env = append(os.Environ(), s.Env...)
	}
	w := lockedWriter{s}
	s.cmd.Stdout, s.cmd.Stderr = w, w
	s.Started = time.Now()
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start syncd: %v", err)
	}
	done := make(chan struct{})
	s.done = done
	go func(cmd *exec.Cmd) { cmd.Wait(); close(done) }(s.cmd)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := poll(ctx, 50*time.Millisecond, done, func() error {
		resp, err := http.Get(s.AdminURL + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %d: %s", path, resp.StatusCode, body)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("syncd did not answer 200 on %s: %v\n%s", path, err, s.Logs())
	}
}

// Exited is closed when the process exits.
func (s *Syncd) Exited() <-chan struct{} { return s.done }

// Kill sends SIGKILL and waits for the process to go.
func (s *Syncd) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Stop sends SIGTERM, waits up to a minute, and returns the exit code.
func (s *Syncd) Stop() int {
	s.t.Helper()
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		s.t.Fatal("syncd did not stop within a minute of SIGTERM")
	}
	return s.cmd.ProcessState.ExitCode()
}

// Logs returns what syncd wrote to stdout and stderr.
func (s *Syncd) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

type lockedWriter struct{ s *Syncd }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.logs.Write(p)
}

// CPUSeconds returns the process's user and system CPU time so far.
func (s *Syncd) CPUSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks, 100 per second on Linux
}

// PeakRSS returns the process's peak resident set size in bytes (VmHWM).
func (s *Syncd) PeakRSS() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// SyncdBinary returns $SYNCD_BIN, or builds syncd once per process into
// a temporary directory.
func SyncdBinary() (string, error) {
	if bin := os.Getenv("SYNCD_BIN"); bin != "" {
		return bin, nil
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "syncd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "syncd")
		out, err := exec.Command("go", "build", "-o", built, "github.com/syncd-dev/syncd/cmd/syncd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build syncd: %v\n%s", err, out)
		}
	})
	return built, buildErr
}
