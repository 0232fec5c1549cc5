package sqlserver

// Benchmarks for a real server (layer 4: skipped unless
// SYNCD_TEST_MSSQL_DSN is set). They apply changes to a table shaped
// like pgbench_accounts in target transactions of 10,000 rows and report
// rows/s, to compare the UPDATE+INSERT upsert (statements.go) with the
// alternatives it names once a server is there. Run them with
//
//	SYNCD_TEST_MSSQL_DSN=sqlserver://… go test -run XXX -bench . -benchtime 3x ./apply/sqlserver/
//
// and record the results in docs/performance.md. None have been run.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

const (
	benchRows   = 50_000
	benchTxRows = 10_000
)

var accounts = applytest.Schema("accounts", []string{"aid"}, "aid integer", "bid integer", "abalance integer", "filler character(84)")

func BenchmarkApplyInserts(b *testing.B) {
	changes := make([]*apply.Change, benchRows)
	for i := range changes {
		changes[i] = accountChange(capture.OpInsert, i+1, 0)
	}
	benchApply(b, changes, false)
}

func BenchmarkApplyUpdates(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	changes := make([]*apply.Change, benchRows)
	for i := range changes {
		changes[i] = accountChange(capture.OpUpdate, 1+r.IntN(benchRows), r.IntN(10000)-5000)
	}
	benchApply(b, changes, true)
}

func accountChange(op capture.Op, aid, balance int) *apply.Change {
	return applytest.Change(accounts, op, fmt.Sprintf(`{"aid":%d}`, aid), "",
		fmt.Sprintf(`{"aid":%d,"bid":%d,"abalance":%d,"filler":"%s"}`, aid, 1+aid/100000, balance, strings.Repeat(" ", 84)))
}

// benchApply applies changes in transactions of benchTxRows, each run on
// a fresh database; prefill writes the rows first, untimed.
func benchApply(b *testing.B, changes []*apply.Change, prefill bool) {
	for range b.N {
		b.StopTimer()
		e := newRealEnv(b)
		ctx := applytest.Context(b)
		if err := e.Target.Prepare(ctx, "s", []*router.TableSchema{accounts}); err != nil {
			b.Fatal(err)
		}
		if prefill {
			for i := 0; i < benchRows; i += benchTxRows {
				batch := make([]*apply.Change, 0, benchTxRows)
				for j := i; j < i+benchTxRows; j++ {
					batch = append(batch, accountChange(capture.OpInsert, j+1, 0))
				}
				if err := applytest.Run(ctx, e.Target, false, applytest.Record(capture.Position(i+1)), batch...); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StartTimer()
		for i := 0; i < len(changes); i += benchTxRows {
			if err := applytest.Run(ctx, e.Target, false, applytest.Record(capture.Position(benchRows+i+1)), changes[i:min(i+benchTxRows, len(changes))]...); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(changes)*b.N)/b.Elapsed().Seconds(), "rows/s")
}
