//go:build unix

package router

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// spokeTable is the table of the many-spokes benchmark: each spoke scope
// takes the rows of one region.
var spokeTable = &capture.Table{
	Schema: "public", Name: "orders",
	Columns: []capture.Column{{Name: "id", Type: "bigint"}, {Name: "region", Type: "text"}, {Name: "note", Type: "text"}},
	Key:     []int{0},
}

// spokesConfig is n scopes from one template with disjoint region = :r
// filters, as a hub serving n spokes has: spoke i takes region r<i>.
func spokesConfig(n int) string {
	return spokesConfigWith(n, func(i int) string { return fmt.Sprintf("r%d", i) })
}

// spokesConfigWith is spokesConfig with spoke i's region param(i).
func spokesConfigWith(n int, param func(i int) string) string {
	var b strings.Builder
	b.WriteString(`
source "postgres" "app" { dsn = "postgres://localhost/app" }
template "spoke" {
  params = ["r"]
  table "public.orders" { where = "region = :r" }
}
`)
	for i := range n {
		fmt.Fprintf(&b, "scope \"spoke%d\" {\n  source = \"app\"\n  snapshot = \"never\"\n  template = \"spoke\"\n  params = { r = %q }\n}\n", i, param(i))
	}
	return b.String()
}

// BenchmarkSpokes measures capture of inserts into one table covered by n
// spoke scopes (see spokesConfig): each iteration publishes one
// transaction of txnRows rows and waits until the streams acknowledged all
// of them, as the "time until all are published". Rows go to
// region r0 only ("one") or round-robin over the n regions ("spread").
// It reports ns/row, CPU time per row and allocs/row (of the whole
// process, the in-process NATS server included: on a shared machine CPU
// time varies less than wall time), how long New took (streams made) and
// how many requests it sent to the server (start-msgs).
// With fsync=false the server does not fsync, which leaves the CPU costs.
func BenchmarkSpokes(b *testing.B) {
	for _, n := range []int{1, 10, 200, 1000} {
		for _, spread := range []bool{false, true} {
			for _, fsync := range []bool{true, false} {
				if n == 1 && spread {
					continue
				}
				name := fmt.Sprintf("n=%d/rows=%s/fsync=%v", n, map[bool]string{false: "one", true: "spread"}[spread], fsync)
				b.Run(name, func(b *testing.B) { benchSpokes(b, n, spread, fsync) })
			}
		}
	}
}

func benchSpokes(b *testing.B, n int, spread, fsync bool) {
	const txnRows = 5000
	srv := testenv.StartNATS(b, func(o *server.Options) { o.SyncAlways = fsync })
	conn := connect(b, srv.URL)
	cfg := loadConfig(b, spokesConfig(n))
	start := time.Now()
	r := newRouter(b, conn, cfg, 0)
	ready := time.Since(start)
	startMsgs := conn.nc.Stats().OutMsgs
	regions := make([]string, n)
	for i := range regions {
		regions[i] = fmt.Sprintf("r%d", i)
	}
	ctx := context.Background()
	var pos capture.Position
	var id int64
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime(b)
	for b.Loop() {
		pos += 100
		txn := &capture.Txn{ID: fmt.Sprint(pos), Pos: pos, Ack: pos + 10, CommitTime: time.Now()}
		if err := r.Begin(ctx, txn); err != nil {
			b.Fatal(err)
		}
		for i := range txnRows {
			id++
			region := regions[0]
			if spread {
				region = regions[i%n]
			}
			ev := &capture.Event{Txn: txn, Table: spokeTable, Op: capture.OpInsert, After: capture.Row{id, region, "note"}}
			if err := r.Change(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.Commit(ctx, txn); err != nil {
			b.Fatal(err)
		}
		drain(b, r)
	}
	cpu := cpuTime(b) - cpu0
	runtime.ReadMemStats(&after)
	rows := float64(b.N) * txnRows
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/rows, "allocs/row")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
	b.ReportMetric(float64(cpu.Nanoseconds())/rows, "cpu-ns/row")
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(ready.Seconds(), "ready-s")
	b.ReportMetric(float64(startMsgs), "start-msgs")
	b.ReportMetric(0, "ns/op")
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
