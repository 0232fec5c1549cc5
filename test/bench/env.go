package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// env satisfies testenv.TB for a program: failures end the run after
// running the cleanups.
type env struct {
	cleanups []func()
	dir      string
}

func newEnv() *env {
	dir, err := os.MkdirTemp("", "syncd-bench-")
	if err != nil {
		log.Fatal(err)
	}
	e := &env{dir: dir}
	e.Cleanup(func() { os.RemoveAll(dir) })
	return e
}

func (e *env) Helper()                 {}
func (e *env) Cleanup(f func())        { e.cleanups = append(e.cleanups, f) }
func (e *env) Failed() bool            { return false }
func (e *env) Logf(f string, a ...any) { log.Printf(f, a...) }
func (e *env) Fatal(a ...any)          { e.cleanup(); log.Fatal(a...) }
func (e *env) Fatalf(f string, a ...any) {
	e.cleanup()
	log.Fatalf(f, a...)
}

func (e *env) TempDir() string {
	d, err := os.MkdirTemp(e.dir, "t")
	if err != nil {
		e.Fatal(err)
	}
	return d
}

func (e *env) cleanup() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

// daemon is a syncd process with the embedded NATS server.
type daemon struct {
	cmd     *exec.Cmd
	done    chan struct{}
	natsURL string
	admin   string // http://host:port of the admin server
	logs    bytes.Buffer
	started time.Time
}

// startSyncd writes a config for the given sources and scopes and starts
// syncd with a data directory dir, which survives restarts.
func startSyncd(e *env, bin, dir, body string) *daemon {
	natsPort, adminPort := testenv.FreePort(e), testenv.FreePort(e)
	cfg := fmt.Sprintf("data_dir = %q\nnats { listen = \"127.0.0.1:%d\" }\nadmin { listen = \"127.0.0.1:%d\" }\n%s",
		filepath.Join(dir, "data"), natsPort, adminPort, body)
	path := filepath.Join(dir, "syncd.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		e.Fatal(err)
	}
	d := &daemon{
		natsURL: fmt.Sprintf("nats://127.0.0.1:%d", natsPort),
		admin:   fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		done:    make(chan struct{}),
		started: time.Now(),
	}
	d.cmd = exec.Command(bin, "run", "--config", path)
	d.cmd.Stdout, d.cmd.Stderr = &d.logs, &d.logs
	if err := d.cmd.Start(); err != nil {
		e.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	e.Cleanup(d.stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		select {
		case <-d.done:
			e.Fatalf("syncd exited: %s", d.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := http.Get(d.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
	}
	e.Fatalf("syncd did not start: %s", d.logs.String())
	return nil
}

func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// waitStream waits until the scope's stream holds want messages and
// returns when that happened.
func (d *daemon) waitStream(e *env, scope string, want uint64, timeout time.Duration) time.Time {
	nc, err := nats.Connect(d.natsURL)
	if err != nil {
		e.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := js.Stream(ctx, router.StreamName(scope))
		cancel()
		if err == nil && s.CachedInfo().State.Msgs >= want {
			return time.Now()
		}
		select {
		case <-d.done:
			e.Fatalf("syncd exited: %s", d.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.Fatalf("stream %s did not reach %d messages in %v: %s", scope, want, timeout, d.logs.String())
	return time.Time{}
}

// cpuSeconds returns the process's user and system CPU time.
func (d *daemon) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks; 100 Hz on Linux
}

// peakRSS returns the process's peak resident set size in bytes (VmHWM).
func (d *daemon) peakRSS() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

// profile saves a CPU profile of syncd taken over the next d to path.
func (d *daemon) profile(path string, dur time.Duration) {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", d.admin, int(dur.Seconds())))
	if err != nil {
		log.Printf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		log.Printf("profile: %v", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		log.Printf("profile: %v", err)
	}
}
