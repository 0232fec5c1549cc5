package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
)

// The benchmarks apply 100,000 changes to a table shaped like
// pgbench_accounts, in target transactions of 10,000 rows (the worker's
// default), and report rows/s. Updates are pgbench's: random accounts,
// the whole new row, no old row.
const (
	benchRows   = 100_000
	benchTxRows = 10_000
)

var accounts = applytest.Schema("public.accounts", []string{"aid"}, "aid integer", "bid integer", "abalance integer", "filler character(84)")

const accountsDDL = `CREATE TABLE accounts (aid integer PRIMARY KEY, bid integer, abalance integer, filler character(84))`

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

// benchVariants are the ways of writing a transaction's rows measured.
var benchVariants = []struct {
	name  string
	apply func(ctx context.Context, e *env, changes []*apply.Change) error
}{
	// Target as it is: unnest of one text[] parameter per column, each
	// element cast to the column's type.
	{"unnest", applyTarget},
	// COPY into a staging table, then INSERT ... SELECT ... ON CONFLICT.
	{"copy", applyCopy},
}

func benchApply(b *testing.B, changes []*apply.Change, prefill bool) {
	for _, v := range benchVariants {
		b.Run(v.name, func(b *testing.B) {
			e := newEnv(b)
			e.exec(accountsDDL)
			e.prepare(accounts)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				e.exec(`TRUNCATE accounts`)
				if prefill {
					e.exec(fmt.Sprintf(`INSERT INTO accounts SELECT g, 1, 0, '' FROM generate_series(1, %d) g`, benchRows))
				}
				e.exec(`VACUUM ANALYZE accounts`)
				b.StartTimer()
				if err := v.apply(ctx, e, changes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(changes)*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// applyTarget applies changes through the Target, benchTxRows a
// transaction.
func applyTarget(ctx context.Context, e *env, changes []*apply.Change) error {
	for start := 0; start < len(changes); start += benchTxRows {
		if err := e.run(false, applytest.Record(capture.Position(start+1)), changes[start:min(start+benchTxRows, len(changes))]...); err != nil {
			return err
		}
	}
	return nil
}
