package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSServer is a current nats-server (the version syncd is built with)
// running as its own process with JetStream on a file store that fsyncs
// every write (sync_interval: always), as syncd's embedded server does.
// Unlike the in-process NATS, it can be killed, frozen and restarted
// while syncd stays connected to its URL.
type NATSServer struct {
	URL      string
	Port     int
	StoreDir string

	t      TB
	bin    string
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

var (
	natsBuildOnce sync.Once
	natsBuilt     string
	natsBuildErr  error
)

// NATSServerBinary returns $NATS_SERVER_BIN, or builds the nats-server
// module syncd depends on, once per process, from the module cache into a
// temporary directory. The build needs no network once the module is
// downloaded.
func NATSServerBinary() (string, error) {
	if bin := os.Getenv("NATS_SERVER_BIN"); bin != "" {
		return bin, nil
	}
	natsBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "syncd-nats-bin-")
		if err != nil {
			natsBuildErr = err
			return
		}
		natsBuilt = filepath.Join(dir, "nats-server")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gobin); err != nil {
			gobin = "go"
		}
		out, err := exec.Command(gobin, "build", "-o", natsBuilt, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsBuildErr = fmt.Errorf("build nats-server: %v\n%s", err, out)
		}
	})
	return natsBuilt, natsBuildErr
}

// StartNATSServer starts bin (see NATSServerBinary) on a free port with a
// store in a new temporary directory, and stops it when the test ends.
func StartNATSServer(t TB, bin string) *NATSServer {
	t.Helper()
	dir := t.TempDir()
	n := &NATSServer{Port: FreePort(t), StoreDir: filepath.Join(dir, "store"), t: t, bin: bin, dir: dir}
	n.URL = fmt.Sprintf("nats://127.0.0.1:%d", n.Port)
	conf := fmt.Sprintf("jetstream {\n  store_dir: %q\n  sync_interval: always\n}\n", n.StoreDir)
	if err := os.WriteFile(filepath.Join(dir, "nats.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n.Start(t)
	t.Cleanup(func() {
		n.Signal(syscall.SIGCONT)
		n.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("nats-server log (tail):\n%s", n.LogTail())
		}
	})
	return n
}

// Start starts the server, on the same port and store as before, and waits
// until it accepts connections and JetStream answers.
func (n *NATSServer) Start(t TB) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(n.dir, "nats.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("open nats-server log: %v", err)
	}
	defer logf.Close()
	n.cmd = exec.Command(n.bin, "-c", filepath.Join(n.dir, "nats.conf"), "-a", "127.0.0.1", "-p", strconv.Itoa(n.Port), "-js")
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	exited := make(chan struct{})
	n.exited = exited
	go func(cmd *exec.Cmd) { cmd.Wait(); close(exited) }(n.cmd)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = poll(ctx, 50*time.Millisecond, exited, func() error {
		nc, err := nats.Connect(n.URL)
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := nc.JetStream()
		if err != nil {
			return err
		}
		_, err = js.AccountInfo()
		return err
	})
	if err != nil {
		t.Fatalf("nats-server did not start: %v\n%s", err, n.LogTail())
	}
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it to exit.
func (n *NATSServer) Stop(t TB) {
	t.Helper()
	n.stop(syscall.SIGTERM)
}

// Kill kills the server with SIGKILL and waits for it to go.
func (n *NATSServer) Kill(t TB) {
	t.Helper()
	n.stop(syscall.SIGKILL)
}

// Signal sends sig to the server process, if it runs; SIGSTOP and SIGCONT
// freeze and thaw it.
func (n *NATSServer) Signal(sig syscall.Signal) error {
	if n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	select {
	case <-n.exited:
		return nil
	default:
	}
	return n.cmd.Process.Signal(sig)
}

func (n *NATSServer) stop(sig syscall.Signal) {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
}

// LogTail returns the end of the server's log.
func (n *NATSServer) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "nats.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
