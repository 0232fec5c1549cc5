package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// env is the benchmark's environment: failures end the run after the
// cleanups.
type env = testenv.Program

func newEnv() *env { return testenv.NewProgram() }

// waitStream waits until the scope's stream on syncd's embedded server
// holds at least want messages and, if lastID is not zero, its last
// message holds the row with id lastID; it returns when that happened.
// It counts messages in the stream's state and reads the last message
// only once the count is reached: reading more would load blocks into
// the server's cache, which holds loaded blocks for seconds and would
// inflate syncd's RSS.
func waitStream(e *env, d *testenv.Syncd, scope string, want uint64, lastID int, timeout time.Duration) time.Time {
	nc, err := nats.Connect(d.NATSURL)
	if err != nil {
		e.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := js.Stream(ctx, router.StreamName(scope))
		if err == nil && s.CachedInfo().State.Msgs >= want && (lastID == 0 || lastRow(ctx, s) == lastID) {
			cancel()
			return time.Now()
		}
		cancel()
		select {
		case <-d.Exited():
			e.Fatalf("syncd exited: %s", d.Logs())
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.Fatalf("stream %s did not reach %d messages and row %d in %v: %s", scope, want, lastID, timeout, d.Logs())
	return time.Time{}
}

// lastRow returns the id of the last row in a stream's last message, or
// -1 if it cannot tell.
func lastRow(ctx context.Context, s jetstream.Stream) int {
	m, err := s.GetMsg(ctx, s.CachedInfo().State.LastSeq)
	if err != nil {
		return -1
	}
	rows, err := router.DecodeRows(m.Data)
	if err != nil {
		return -1
	}
	// A bigint id is a JSON string, an int a number.
	n, err := strconv.Atoi(string(bytes.Trim(rows[len(rows)-1].After["id"], `"`)))
	if err != nil {
		return -1
	}
	return n
}

// messages returns how many messages at least carry rows written in
// transactions of txnRows rows each, to one table, with the bench's
// rows_per_message: a message also ends at 128 KiB.
func messages(rows, txnRows int) uint64 {
	per := max(*rowsPerMessage, 1)
	txns := (rows + txnRows - 1) / txnRows
	return uint64(txns * ((txnRows + per - 1) / per))
}

// scopeOptions are the bench's settings for the scopes of the capture and
// catch-up runs (-rows-per-message).
func scopeOptions() string { return scopeOptionsFor(*rowsPerMessage) }

// scopeOptionsFor are the settings of a scope with rows_per_message = pack.
func scopeOptionsFor(pack int) string {
	if pack <= 1 {
		return ""
	}
	return fmt.Sprintf("rows_per_message = %d", pack)
}

// variant names a measure as run with -rows-per-message.
func variant(name string) string { return variantFor(name, *rowsPerMessage) }

// variantFor names a measure as run with rows_per_message = pack.
func variantFor(name string, pack int) string {
	if pack <= 1 {
		return name
	}
	return fmt.Sprintf("%s, rows_per_message = %d", name, pack)
}

// profile saves a CPU profile of syncd taken over the next dur to path.
func profile(d *testenv.Syncd, path string, dur time.Duration) {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", d.AdminURL, int(dur.Seconds())))
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

// jetStreamBaseline names the JetStream-alone baseline of this run.
func jetStreamBaseline() string {
	if *rowsPerMessage <= 1 {
		return "rows/s, JetStream alone (atomic batches of 1,000 messages, fsync)"
	}
	return fmt.Sprintf("rows/s, JetStream alone (%d rows a message, batches of 4 MiB, fsync)", *rowsPerMessage)
}
