package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
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
// holds want messages and returns when that happened.
func waitStream(e *env, d *testenv.Syncd, scope string, want uint64, timeout time.Duration) time.Time {
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
		cancel()
		if err == nil && s.CachedInfo().State.Msgs >= want {
			return time.Now()
		}
		select {
		case <-d.Exited():
			e.Fatalf("syncd exited: %s", d.Logs())
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.Fatalf("stream %s did not reach %d messages in %v: %s", scope, want, timeout, d.Logs())
	return time.Time{}
}

// messages returns how many messages carry rows written in transactions
// of txnRows rows each, to one table, with the bench's rows_per_message.
// Counting messages in the stream's state, rather than reading the last
// one, keeps the poller from loading blocks into the server's cache,
// which holds loaded blocks for seconds.
func messages(rows, txnRows int) uint64 {
	per := max(*rowsPerMessage, 1)
	txns := (rows + txnRows - 1) / txnRows
	return uint64(txns * ((txnRows + per - 1) / per))
}

// scopeOptions are the bench's settings for the scopes of the capture and
// catch-up runs (-rows-per-message).
func scopeOptions() string {
	if *rowsPerMessage <= 1 {
		return ""
	}
	return fmt.Sprintf("rows_per_message = %d", *rowsPerMessage)
}

// variant names a measure as run with -rows-per-message.
func variant(name string) string {
	if *rowsPerMessage <= 1 {
		return name
	}
	return fmt.Sprintf("%s, rows_per_message = %d", name, *rowsPerMessage)
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
