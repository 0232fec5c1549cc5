package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/apply/sqltx"
	"github.com/syncd-dev/syncd/capture"
)

// The benchmarks apply changes to a table shaped like pgbench_accounts,
// in target transactions of 10,000 rows (the worker's default), and
// report rows/s for each way of writing them. Updates are pgbench's:
// random accounts, the whole new row, no old row. Run them with
//
//	go test -run XXX -bench . -benchtime 3x ./apply/mysql/
//
// The results are in the comment at the top of statements.go.
const (
	benchRows   = 50_000
	benchTxRows = 10_000
)

var accounts = applytest.Schema("accounts", []string{"aid"}, "aid integer", "bid integer", "abalance integer", "filler character(84)")

const accountsDDL = `CREATE TABLE accounts (aid integer PRIMARY KEY, bid integer, abalance integer, filler char(84))`

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
	setup func(e *env)
	apply func(ctx context.Context, e *env, changes []*apply.Change) error
}{
	// The Target as it is: multi-row INSERT ... ON DUPLICATE KEY UPDATE
	// of 1,000 rows, values interpolated by the driver (one round trip).
	{"odku-1000-interpolated", nil, applyTarget},
	// The same, 500 rows a statement.
	{"odku-500-interpolated", func(e *env) { e.tg.groupRows = 500 }, applyTarget},
	// The same with server-side prepared statements: prepare, execute,
	// close for each statement (binary protocol, no client escaping).
	{"odku-1000-prepared", func(e *env) { e.tg.driverCfg.InterpolateParams = false }, applyTarget},
	// One row a statement.
	{"single-row", func(e *env) { e.tg.groupRows = 1 }, applyTarget},
	// LOAD DATA LOCAL INFILE of the transaction's rows into a temporary
	// table, then INSERT ... SELECT ... ON DUPLICATE KEY UPDATE.
	{"load-data-merge", nil, applyLoadData},
}

func benchApply(b *testing.B, changes []*apply.Change, prefill bool) {
	for _, v := range benchVariants {
		b.Run(v.name, func(b *testing.B) {
			e := newEnv(b)
			e.exec(accountsDDL)
			if v.setup != nil {
				v.setup(e)
			}
			e.prepare(accounts)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				e.exec(`TRUNCATE accounts`)
				if prefill {
					e.exec(fmt.Sprintf(`INSERT INTO accounts SELECT seq, 1, 0, '' FROM seq_1_to_%d`, benchRows))
				}
				e.exec(`ANALYZE TABLE accounts`)
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

// applyLoadData writes each transaction's rows as tab-separated text
// into a temporary table with LOAD DATA LOCAL INFILE, then merges them
// into the table, and writes the checkpoint, on one connection.
func applyLoadData(ctx context.Context, e *env, changes []*apply.Change) error {
	tb := e.tg.tables[accounts.Target]
	cfg, err := mysql.ParseDSN(e.dsn)
	if err != nil {
		return err
	}
	if err := session(cfg); err != nil {
		return err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `CREATE TEMPORARY TABLE IF NOT EXISTS staged (aid integer, bid integer, abalance integer, filler char(84))`); err != nil {
		return err
	}
	var buf bytes.Buffer
	mysql.RegisterReaderHandler("syncd_bench", func() io.Reader { return bytes.NewReader(buf.Bytes()) })
	defer mysql.DeregisterReaderHandler("syncd_bench")
	for start := 0; start < len(changes); start += benchTxRows {
		buf.Reset()
		for _, ch := range changes[start:min(start+benchTxRows, len(changes))] {
			for i := range tb.cols {
				v, err := convert(&tb.cols[i], ch.After[tb.cols[i].name])
				if err != nil {
					return err
				}
				if i > 0 {
					buf.WriteByte('\t')
				}
				fmt.Fprint(&buf, v) // no tabs, newlines or backslashes in these values
			}
			buf.WriteByte('\n')
		}
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		rec := e.tg.writeCheckpoint(applytest.Record(capture.Position(start + 1)))
		for _, q := range []sqltx.Stmt{
			{SQL: `DELETE FROM staged`},
			{SQL: `LOAD DATA LOCAL INFILE 'Reader::syncd_bench' INTO TABLE staged`},
			{SQL: `INSERT INTO accounts SELECT * FROM staged ON DUPLICATE KEY UPDATE bid = VALUES(bid), abalance = VALUES(abalance), filler = VALUES(filler)`},
			rec,
		} {
			if _, err := tx.ExecContext(ctx, q.SQL, q.Args...); err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", sqltx.FirstWords(q.SQL), err)
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
