package testenv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now
// and that this process has not handed out before.
//
// It picks below the kernel's ephemeral range (ip_local_port_range): a
// port the kernel chose for a listener on :0 is free again once that
// listener closes, and every outgoing connection (a test's client of a
// database, say) may take it as its local port before the server meant to
// listen there starts, or while it restarts. Below that range only
// listeners that name their port bind, so the test servers started with
// FreePort, which is random within some 20,000 ports, rarely meet.
func FreePort(t TB) int {
	t.Helper()
	low := ephemeralLow()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := 10000 + rand.IntN(low-10000)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatalf("find free port: none free of 1,000 tried below %d", low)
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow returns the lowest port of the kernel's ephemeral range,
// or Linux's default, 32768, where it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 11000 {
		return 32768
	}
	return low
}

// Eventually calls cond every interval until it returns nil or timeout
// passes, and then fails the test with cond's last error.
func Eventually(t TB, timeout, interval time.Duration, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := poll(ctx, interval, nil, cond); err != nil {
		t.Fatalf("condition not met within %v: %v", timeout, err)
	}
}

// poll calls f every interval until it returns nil, ctx is done or abort
// is closed. It returns f's last error if f never succeeded.
func poll(ctx context.Context, interval time.Duration, abort <-chan struct{}, f func() error) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-abort:
			return errors.New("process exited")
		case <-tick.C:
		}
	}
}

func credentialOf(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("look up user %s (tests running as root start servers as %s): %w", name, name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// TB is the part of testing.TB the environment uses, so that programs
// such as the demo can start servers too.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
}
