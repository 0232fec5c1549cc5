package e2e

import (
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestLargeTransactionMemory: transactions stream through syncd, so one
// of 500,000 rows, which would take hundreds of MiB held in memory,
// leaves syncd's peak resident memory (its embedded NATS server
// included) under 150 MiB. docs/performance.md has the figures.
func TestLargeTransactionMemory(t *testing.T) {
	const rows = 500_000
	pg := testenv.StartPostgres(t)
	_, d := oneScope(t, pg, `CREATE TABLE narrow (id bigint PRIMARY KEY, n int NOT NULL, v text NOT NULL)`, "all", "public.narrow")
	d.Start()
	pg.Exec(t, "app", `INSERT INTO narrow SELECT g, g % 1000, md5(g::text) FROM generate_series(1, 500000) g`)
	waitCount(t, connect(t, d), "all", rows, 3*time.Minute)
	const limit = 150 << 20
	if rss := d.PeakRSS(); rss > limit {
		t.Fatalf("peak RSS %.0f MiB after a %d-row transaction, want under %d MiB", rss/(1<<20), rows, limit>>20)
	}
	t.Logf("peak RSS %.0f MiB", d.PeakRSS()/(1<<20))
}
