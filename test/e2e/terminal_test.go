package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syncd-dev/syncd/test/testenv"
)

// runOnTerminal runs syncd with args, its stdout and stderr on a
// pseudo-terminal, until its output matches until, then stops it with
// SIGTERM and returns what it wrote, with the terminal's CRLF line ends made LF.
func runOnTerminal(t *testing.T, until *regexp.Regexp, args ...string) string {
	t.Helper()
	master, slave := openPTY(t)
	cmd := exec.Command(syncdBin, args...)
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil { // EIO once syncd has exited
				return
			}
		}
	}()
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.ReplaceAll(out.String(), "\r\n", "\n")
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-exited
			t.Errorf("syncd on a terminal did not stop within a minute of SIGTERM")
		}
		master.Close()
		<-read
	}()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("syncd exited (%v) before writing a line matching %s:\n%s", err, until, text())
		default:
		}
		if !until.MatchString(text()) {
			return fmt.Errorf("no line matching %s in:\n%s", until, text())
		}
		return nil
	})
	return text()
}

// openPTY opens a pseudo-terminal pair, closed when the test ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("name pseudo-terminal: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pseudo-terminal %d: %v", n, err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}
