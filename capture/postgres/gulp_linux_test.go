package postgres

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
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

// readAll reads exactly n bytes from g and returns how long it took.
func readAll(t *testing.T, g *gulpConn, n int) time.Duration {
	t.Helper()
	start := time.Now()
	buf := make([]byte, 16<<10)
	for got := 0; got < n; {
		m, err := g.Read(buf[:min(len(buf), n-got)])
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v", got, n, err)
		}
		got += m
	}
	return time.Since(start)
}

// behind makes g see a backlog: one large read turns gulps on.
func behind(t *testing.T, g *gulpConn, w net.Conn) {
	t.Helper()
	write(t, w, 8<<10)
	readAll(t, g, 8<<10)
	if !g.on {
		t.Fatal("an 8 KiB read did not turn gulps on")
	}
}

func TestGulpConn(t *testing.T) {
	t.Run("small reads at once", func(t *testing.T) {
		g, w := tcpPair(t)
		write(t, w, 100)
		if d := readAll(t, g, 100); d >= gulpWait {
			t.Errorf("100 bytes took %v, want them at once", d)
		}
		if g.on {
			t.Error("a small read turned gulps on")
		}
	})
	t.Run("behind waits for a gulp", func(t *testing.T) {
		g, w := tcpPair(t)
		behind(t, g, w)
		go func() {
			time.Sleep(gulpWait / 4) // while Read waits
			for range 8 {
				w.Write(make([]byte, gulp/8))
			}
		}()
		buf := make([]byte, gulp)
		n, err := g.Read(buf)
		if err != nil || n < gulp/2 {
			t.Fatalf("read %d bytes, %v; want one gulp of at least %d", n, err, gulp/2)
		}
		if !g.on {
			t.Error("gulps turned off while the backlog lasts")
		}
	})
	t.Run("a trickle waits at most gulpWait", func(t *testing.T) {
		g, w := tcpPair(t)
		behind(t, g, w)
		go func() {
			time.Sleep(gulpWait / 4) // while Read waits
			w.Write(make([]byte, 100))
		}()
		d := readAll(t, g, 100)
		if d < gulpWait*3/4 || d > 10*gulpWait {
			t.Errorf("100 bytes took %v, want about %v (SO_RCVLOWAT holds them until then)", d, gulpWait)
		}
		if g.on {
			t.Error("gulps still on after the backlog ended")
		}
	})
	t.Run("the caller's deadline returns what arrived", func(t *testing.T) {
		g, w := tcpPair(t)
		behind(t, g, w)
		write(t, w, 100)
		if err := g.SetReadDeadline(time.Now().Add(gulpWait / 10)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1024)
		n, err := g.Read(buf)
		if n != 100 || err != nil {
			t.Fatalf("read %d bytes, %v; want 100, nil", n, err)
		}
	})
	t.Run("the caller's deadline with nothing is a timeout", func(t *testing.T) {
		g, w := tcpPair(t)
		behind(t, g, w)
		if err := g.SetReadDeadline(time.Now().Add(gulpWait / 10)); err != nil {
			t.Fatal(err)
		}
		_, err := g.Read(make([]byte, 1024))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want a timeout", err)
		}
		if g.on {
			t.Error("gulps still on after an idle timeout")
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
