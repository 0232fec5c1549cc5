package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syncd-dev/syncd/test/testenv"
)

// tcpPair returns a gulpConn reading from a loopback TCP connection and
// the connection writing to it.
func tcpPair(t *testing.T) (*gulpConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	w := <-accepted
	if w == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); w.Close() })
	g, ok := newGulpConn(c).(*gulpConn)
	if !ok {
		t.Fatal("newGulpConn did not wrap a TCP connection")
	}
	return g, w
}

func write(t *testing.T, w net.Conn, n int) {
	t.Helper()
	if _, err := w.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
}

// readAll reads exactly n bytes from g.
func readAll(t *testing.T, g *gulpConn, n int) {
	t.Helper()
	buf := make([]byte, 16<<10)
	for got := 0; got < n; {
		m, err := g.Read(buf[:min(len(buf), n-got)])
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v", got, n, err)
		}
		got += m
	}
}

// lowat returns g's SO_RCVLOWAT: how many bytes the kernel waits for
// before it wakes a reader.
func lowat(t *testing.T, g *gulpConn) int {
	t.Helper()
	var n int
	var serr error
	if err := g.raw.Control(func(fd uintptr) {
		n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT)
	}); err != nil || serr != nil {
		t.Fatalf("get SO_RCVLOWAT: %v, %v", err, serr)
	}
	return n
}

// waitQueued waits until n bytes wait in g's receive queue.
func waitQueued(t *testing.T, g *gulpConn, n int) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, time.Millisecond, func() error {
		if q := g.queued(); q < n {
			return fmt.Errorf("%d of %d bytes queued", q, n)
		}
		return nil
	})
}

type readResult struct {
	n   int
	err error
}

// startRead runs one g.Read of size bytes in a goroutine and returns
// its result. The goroutine is waited for at cleanup, after g is closed.
func startRead(t *testing.T, g *gulpConn, size int) <-chan readResult {
	res, done := make(chan readResult, 1), make(chan struct{})
	go func() {
		defer close(done)
		n, err := g.Read(make([]byte, size))
		res <- readResult{n, err}
	}()
	t.Cleanup(func() { g.Close(); <-done })
	return res
}

// waitParked waits until the Read of startRead has found the socket not
// readable and is parked in the netpoller, where only the kernel (with
// SO_RCVLOWAT bytes queued) or a deadline wakes it. It reports false if
// the Read returned first.
func waitParked(t *testing.T, res <-chan readResult) bool {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, time.Millisecond, func() error {
		if len(res) > 0 || parked() {
			return nil
		}
		return errors.New("the Read is neither parked nor done")
	})
	return len(res) == 0
}

// parked reports whether a goroutine of startRead waits for the network
// in gulpConn.Read, from the goroutines' stacks.
func parked() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("[IO wait")) && bytes.Contains(g, []byte("(*gulpConn).Read(")) &&
			bytes.Contains(g, []byte("postgres.startRead")) {
			return true
		}
	}
	return false
}

// await returns the result of a read from startRead. The 10 s are a
// bound for a Read that never returns, not a measure.
func await(t *testing.T, res <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return")
		return readResult{}
	}
}

// behind makes g see a backlog: one read of gulpHint bytes or more turns
// gulps on, and the kernel then holds reads until a gulp has arrived.
func behind(t *testing.T, g *gulpConn, w net.Conn) {
	t.Helper()
	write(t, w, 8<<10)
	waitQueued(t, g, 8<<10)
	if n, err := g.Read(make([]byte, 16<<10)); n != 8<<10 || err != nil {
		t.Fatalf("read %d bytes, %v; want 8 KiB", n, err)
	}
	if !g.on || lowat(t, g) != gulp {
		t.Fatalf("an 8 KiB read left gulps on = %v, SO_RCVLOWAT = %d; want on, %d", g.on, lowat(t, g), gulp)
	}
}

// The tests assert what Read returns and the state it leaves (gulps on
// or off, SO_RCVLOWAT), not how long it takes. A Read finds queued bytes
// at once whatever SO_RCVLOWAT is; the option decides when the kernel
// wakes a Read that waits, so the tests send their bytes once the Read
// waits (waitParked). Where a test is not about the end of a gulp, it
// lengthens g.wait so that a loaded machine cannot run it out.
func TestGulpConn(t *testing.T) {
	t.Run("small reads at once", func(t *testing.T) {
		g, w := tcpPair(t)
		g.wait = time.Minute
		res := startRead(t, g, 1024)
		waitParked(t, res)
		write(t, w, 100)
		if r := await(t, res); r.n != 100 || r.err != nil {
			t.Fatalf("read %d bytes, %v; want 100, nil", r.n, r.err)
		}
		if g.on || lowat(t, g) != 1 {
			t.Errorf("a small read left gulps on = %v, SO_RCVLOWAT = %d; want off, 1", g.on, lowat(t, g))
		}
	})
	t.Run("behind waits for a gulp", func(t *testing.T) {
		g, w := tcpPair(t)
		g.wait = time.Minute
		behind(t, g, w)
		res := startRead(t, g, gulp)
		if !waitParked(t, res) {
			t.Fatalf("Read returned %+v before anything was sent", <-res)
		}
		for range 8 {
			write(t, w, gulp/8)
		}
		if r := await(t, res); r.n != gulp || r.err != nil {
			t.Fatalf("read %d bytes, %v; want one gulp of %d, not the first pieces", r.n, r.err, gulp)
		}
		if !g.on {
			t.Error("gulps turned off while the backlog lasts")
		}
	})
	t.Run("a trickle ends the gulps", func(t *testing.T) {
		g, w := tcpPair(t)
		behind(t, g, w)
		// Less than a gulp: the Read waits g.wait (gulpWait) for the
		// rest, then returns what came and turns gulps off.
		res := startRead(t, g, 1024)
		if !waitParked(t, res) {
			t.Fatalf("Read returned %+v before anything was sent", <-res)
		}
		write(t, w, 100)
		if r := await(t, res); r.n != 100 || r.err != nil {
			t.Fatalf("read %d bytes, %v; want 100, nil", r.n, r.err)
		}
		if g.on || lowat(t, g) != 1 {
			t.Errorf("after the backlog ended gulps are on = %v, SO_RCVLOWAT = %d; want off, 1", g.on, lowat(t, g))
		}
	})
	t.Run("the caller's deadline returns what arrived", func(t *testing.T) {
		// Bytes must arrive while the Read waits and before the
		// caller's deadline; on a machine too loaded for that, try
		// again with a later deadline.
		for d := 50 * time.Millisecond; ; d *= 2 {
			if d > 30*time.Second {
				t.Fatal("could not send 100 bytes before the caller's deadline")
			}
			g, w := tcpPair(t)
			g.wait = time.Minute
			behind(t, g, w)
			deadline := time.Now().Add(d)
			if err := g.SetReadDeadline(deadline); err != nil {
				t.Fatal(err)
			}
			res := startRead(t, g, 1024)
			if !waitParked(t, res) {
				continue
			}
			write(t, w, 100)
			waitQueued(t, g, 100)
			if time.Now().After(deadline) {
				continue
			}
			if r := await(t, res); r.n != 100 || r.err != nil {
				t.Fatalf("read %d bytes, %v; want 100, nil", r.n, r.err)
			}
			return
		}
	})
	t.Run("the caller's deadline with nothing is a timeout", func(t *testing.T) {
		g, w := tcpPair(t)
		g.wait = time.Minute
		behind(t, g, w)
		if err := g.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		_, err := g.Read(make([]byte, 1024))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want a timeout", err)
		}
		if g.on || lowat(t, g) != 1 {
			t.Errorf("after an idle timeout gulps are on = %v, SO_RCVLOWAT = %d; want off, 1", g.on, lowat(t, g))
		}
	})
	t.Run("end of stream", func(t *testing.T) {
		g, w := tcpPair(t)
		behind(t, g, w)
		write(t, w, 10)
		w.Close()
		readAll(t, g, 10)
		if _, err := g.Read(make([]byte, 10)); err != io.EOF {
			t.Fatalf("read: %v, want io.EOF", err)
		}
	})
}
