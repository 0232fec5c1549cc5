package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATS is an in-process NATS server with JetStream on a file store that
// fsyncs every write, as syncd's embedded server does.
type NATS struct {
	Server   *server.Server
	URL      string
	StoreDir string

	opts server.Options
}

// NATSOption adjusts a server before it starts.
type NATSOption func(*server.Options)

// WithUser makes the server require a user name and password.
func WithUser(user, password string) NATSOption {
	return func(o *server.Options) { o.Username, o.Password = user, password }
}

// StartNATS starts a server on a free port and shuts it down when the test
// ends.
func StartNATS(t TB, opts ...NATSOption) *NATS {
	t.Helper()
	n := &NATS{
		StoreDir: t.TempDir(),
	}
	n.opts = server.Options{
		Host:       "127.0.0.1",
		Port:       FreePort(t),
		JetStream:  true,
		StoreDir:   n.StoreDir,
		SyncAlways: true,
		NoSigs:     true,
		NoLog:      true,
	}
	for _, o := range opts {
		o(&n.opts)
	}
	n.start(t)
	t.Cleanup(n.Shutdown)
	return n
}

// Restart shuts the server down and starts it again on the same port and
// store, as after a crash of the NATS process.
func (n *NATS) Restart(t TB) {
	t.Helper()
	n.Shutdown()
	n.start(t)
}

// Shutdown stops the server and waits for it to finish.
func (n *NATS) Shutdown() {
	if n.Server != nil {
		n.Server.Shutdown()
		n.Server.WaitForShutdown()
	}
}

// Connect returns a client connection closed when the test ends.
func (n *NATS) Connect(t TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(n.URL, nats.UserInfo(n.opts.Username, n.opts.Password))
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func (n *NATS) start(t TB) {
	t.Helper()
	opts := n.opts
	s, err := server.NewServer(&opts)
	if err != nil {
		t.Fatalf("create nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready within 10s")
	}
	n.Server, n.URL = s, s.ClientURL()
}

// NATSProcess is a nats-server binary running as its own process, such as
// the one Debian ships (2.9, older than atomic batches).
type NATSProcess struct {
	URL string
	cmd *exec.Cmd
}

// StartNATSProcess starts the nats-server binary found on PATH (or in
// /usr/sbin) with JetStream on a free port, and stops it when the test
// ends.
func StartNATSProcess(t TB) *NATSProcess {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("nats-server binary not found; install it with: sudo apt-get install -y nats-server")
		}
	}
	port := FreePort(t)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	p := &NATSProcess{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), cmd: cmd}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = poll(ctx, 50*time.Millisecond, exited, func() error {
		nc, err := nats.Connect(p.URL)
		if err != nil {
			return err
		}
		nc.Close()
		return nil
	})
	if err != nil {
		t.Fatalf("nats-server did not start: %v", err)
	}
	return p
}
