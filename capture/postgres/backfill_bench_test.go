package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// BenchmarkReadChunk measures the read of one 10,000-row backfill chunk
// of the initial-snapshot benchmark's table (bigint key, int, md5 text,
// timestamptz) by 1, 2 and 4 connections: the reader's share of a
// chunk's time, which parallel reads shorten.
func BenchmarkReadChunk(b *testing.B) {
	pg := testenv.StartPostgres(b)
	dsn := pg.CreateDB(b, "app")
	pg.Exec(b, "app", `CREATE TABLE narrow (id bigint PRIMARY KEY, n int NOT NULL, v text NOT NULL, t timestamptz NOT NULL)`,
		`INSERT INTO narrow SELECT g, g % 1000, md5(g::text), '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 100000) g`,
		`VACUUM ANALYZE narrow`)
	ctx := context.Background()
	connect := func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, dsn) }
	for _, parallelism := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("parallelism=%d", parallelism), func(b *testing.B) {
			req := capture.SnapshotRequest{Scope: "s", Table: capture.TableID{Schema: "public", Name: "narrow"}, Truncate: true}
			core, err := capture.NewBackfill(req, []string{"id"}, literal)
			if err != nil {
				b.Fatal(err)
			}
			conn, err := connect(ctx)
			if err != nil {
				b.Fatal(err)
			}
			bf := &backfill{Backfill: core, ti: &tableInfo{pk: []string{"id"}}, conn: conn,
				readers: make([]*pgx.Conn, parallelism), connect: connect, minRows: capture.MinRangeRows}
			b.Cleanup(func() {
				for _, c := range append(bf.readers, conn) {
					if c != nil {
						c.Close(ctx)
					}
				}
			})
			spec := capture.ChunkSpec{Phase: capture.PhaseEnter}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				spec.After = []string{fmt.Sprint(i % 9 * 10000)}
				res, err := bf.readChunk(ctx, spec, 10000)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.rows) != 10000 {
					b.Fatalf("%d rows read, want 10000", len(res.rows))
				}
			}
			b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
