package sqlserver

// BenchmarkUpsertStrategies, for a real server (layer 4: skipped unless
// SYNCD_TEST_MSSQL_DSN is set; it has NEVER run): the same upserts,
// half of them to keys the table holds, written three ways, each in
// target transactions of benchTxRows rows, to choose between them by
// measurement once a server is there (statements.go says why the target
// uses the first):
//
//   - values: the target itself (UPDATE … FROM (VALUES …) then INSERT …
//     WHERE NOT EXISTS, WITH (UPDLOCK, SERIALIZABLE), groups under the
//     2,100 parameters of a request);
//   - merge: MERGE … WITH (HOLDLOCK) USING (VALUES …), the same groups
//     (https://learn.microsoft.com/en-us/sql/t-sql/statements/merge-transact-sql);
//   - bulkcopy: the transaction's rows bulk-copied into a temporary
//     table (go-mssqldb's CopyIn, the TDS bulk load:
//     https://learn.microsoft.com/en-us/sql/relational-databases/import-export/bulk-import-and-export-of-data-sql-server),
//     then one UPDATE and one INSERT … WHERE NOT EXISTS from it.
//
//	SYNCD_TEST_MSSQL_DSN=sqlserver://… go test -run XXX -bench UpsertStrategies -benchtime 3x ./apply/sqlserver/
//
// Record the results in docs/performance.md.

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// accountRow is one upserted row of accounts.
type accountRow struct{ aid, bid, abalance int }

const accountCols = "[aid], [bid], [abalance], [filler]"

var filler = strings.Repeat(" ", 84)

func BenchmarkUpsertStrategies(b *testing.B) {
	// benchRows distinct keys out of 2*benchRows, the table holding the
	// first benchRows: about half updates, half inserts.
	r := rand.New(rand.NewPCG(3, 4))
	keys := r.Perm(2 * benchRows)[:benchRows]
	rows := make([]accountRow, benchRows)
	for i, k := range keys {
		rows[i] = accountRow{aid: k + 1, bid: 1 + k/100000, abalance: r.IntN(10000) - 5000}
	}
	for _, s := range []struct {
		name  string
		write func(ctx context.Context, tx *sql.Tx, rows []accountRow) error
	}{
		{"values", nil},
		{"merge", mergeAccounts},
		{"bulkcopy", bulkCopyAccounts},
	} {
		b.Run(s.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				ctx := applytest.Context(b)
				dsn := testenv.MSSQLDatabase(b)
				tg, err := New(Config{Name: "bench", DSN: dsn, CreateTables: true, SyncdVersion: "bench"}, Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(tg.Close)
				if err := tg.Prepare(ctx, "s", []*router.TableSchema{accounts}); err != nil {
					b.Fatal(err)
				}
				db, err := sql.Open("sqlserver", dsn)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				db.SetMaxOpenConns(1)
				prefill := make([]accountRow, benchRows)
				for i := range prefill {
					prefill[i] = accountRow{aid: i + 1, bid: 1 + i/100000}
				}
				inTx(b, ctx, db, prefill, bulkCopyAccounts)
				b.StartTimer()
				if s.write == nil {
					for i := 0; i < len(rows); i += benchTxRows {
						var cs []*apply.Change
						for _, a := range rows[i:min(i+benchTxRows, len(rows))] {
							cs = append(cs, accountChange(capture.OpInsert, a.aid, a.abalance))
						}
						if err := applytest.Run(ctx, tg, false, applytest.Record(capture.Position(i+1)), cs...); err != nil {
							b.Fatal(err)
						}
					}
					continue
				}
				for i := 0; i < len(rows); i += benchTxRows {
					inTx(b, ctx, db, rows[i:min(i+benchTxRows, len(rows))], s.write)
				}
			}
			b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// inTx runs write on rows in one transaction and commits it.
func inTx(b *testing.B, ctx context.Context, db *sql.DB, rows []accountRow, write func(context.Context, *sql.Tx, []accountRow) error) {
	b.Helper()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := write(ctx, tx, rows); err != nil {
		tx.Rollback()
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// mergeAccounts upserts rows with one MERGE per group of at most
// maxParams parameters.
func mergeAccounts(ctx context.Context, tx *sql.Tx, rows []accountRow) error {
	const per = maxParams / 4
	for i := 0; i < len(rows); i += per {
		group := rows[i:min(i+per, len(rows))]
		args := make([]any, 0, 4*len(group))
		for _, a := range group {
			args = append(args, a.aid, a.bid, a.abalance, filler)
		}
		q := "MERGE [accounts] WITH (HOLDLOCK) AS T USING (VALUES " + values(len(group), 4) + ") AS S (" + accountCols + ")" +
			" ON T.[aid] = S.[aid]" +
			" WHEN MATCHED THEN UPDATE SET [bid] = S.[bid], [abalance] = S.[abalance], [filler] = S.[filler]" +
			" WHEN NOT MATCHED THEN INSERT (" + accountCols + ") VALUES (S.[aid], S.[bid], S.[abalance], S.[filler]);"
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("merge %d rows: %w", len(group), err)
		}
	}
	return nil
}

// bulkCopyAccounts bulk-copies rows into a temporary table, then updates
// the rows of keys the table holds and inserts the others from it.
func bulkCopyAccounts(ctx context.Context, tx *sql.Tx, rows []accountRow) error {
	if _, err := tx.ExecContext(ctx, "CREATE TABLE #stage ([aid] int PRIMARY KEY, [bid] int, [abalance] int, [filler] nchar(84))"); err != nil {
		return fmt.Errorf("create the staging table: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, mssql.CopyIn("#stage", mssql.BulkOptions{}, "aid", "bid", "abalance", "filler"))
	if err != nil {
		return fmt.Errorf("start the bulk copy: %w", err)
	}
	defer stmt.Close()
	for _, a := range rows {
		if _, err := stmt.ExecContext(ctx, a.aid, a.bid, a.abalance, filler); err != nil {
			return fmt.Errorf("bulk copy a row: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("end the bulk copy: %w", err)
	}
	q := "UPDATE T SET [bid] = S.[bid], [abalance] = S.[abalance], [filler] = S.[filler]" +
		" FROM [accounts] AS T WITH (UPDLOCK, SERIALIZABLE) JOIN #stage AS S ON T.[aid] = S.[aid];\n" +
		"INSERT INTO [accounts] (" + accountCols + ") SELECT S.[aid], S.[bid], S.[abalance], S.[filler] FROM #stage AS S" +
		" WHERE NOT EXISTS (SELECT 1 FROM [accounts] AS T WITH (UPDLOCK, SERIALIZABLE) WHERE T.[aid] = S.[aid]);\n" +
		"DROP TABLE #stage"
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("upsert from the staging table: %w", err)
	}
	return nil
}
