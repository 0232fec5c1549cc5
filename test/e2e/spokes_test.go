package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestKillSharedSpokeStream kills syncd with SIGKILL twice while 30,000
// rows spread over three spokes of one template are written in 1,000-row
// transactions, each time right after the slot's confirmed position moved,
// and restarts it. The spokes share one stream: afterwards it holds each
// spoke's rows exactly once and in order (its own subjects read alone),
// and each spoke's target holds exactly its region's rows.
func TestKillSharedSpokeStream(t *testing.T) {
	const txns, rowsPerTxn, spokes = 30, 1000, 3
	pg := testenv.StartPostgres(t)
	ddl := `CREATE TABLE orders (id bigint PRIMARY KEY, region text NOT NULL, note text NOT NULL)`
	dsn := pg.CreateDB(t, "app")
	pg.Exec(t, "app", ddl)
	var hcl strings.Builder
	fmt.Fprintf(&hcl, `
source "postgres" "app" { dsn = %q }
template "spoke" {
  params = ["r"]
  table "public.orders" { where = "region = :r" }
}
`, dsn)
	targets := make([]string, spokes)
	for i := range spokes {
		db := fmt.Sprintf("spoke%d", i)
		targets[i] = pg.CreateDB(t, db)
		pg.Exec(t, db, ddl)
		fmt.Fprintf(&hcl, `
target "postgres" %[1]q { dsn = %[2]q }
scope %[1]q {
  source   = "app"
  targets  = [%[1]q]
  snapshot = "never"
  template = "spoke"
  params   = { r = "r%[3]d" }
}
`, db, targets[i], i)
	}
	d := newDaemon(t, hcl.String())
	d.Start()
	conn := pgConnect(t, dsn)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	written := make(chan error, 1)
	go func() {
		for i := range txns {
			first := i*rowsPerTxn + 1
			_, err := conn.Exec(ctx, `INSERT INTO orders SELECT g, 'r' || (g % 3), md5(g::text) FROM generate_series($1::bigint, $2::bigint) g`, first, first+rowsPerTxn-1)
			if err != nil {
				written <- fmt.Errorf("insert transaction %d: %w", i, err)
				return
			}
		}
		written <- nil
	}()
	watch := pgConnect(t, dsn)
	nc := connect(t, d)
	for _, at := range []uint64{3_000, 6_000} { // messages of spoke0
		testenv.Eventually(t, 2*time.Minute, 20*time.Millisecond, func() error {
			n, err := streamCount(t, nc, "spoke0")
			if err != nil || n < at {
				return fmt.Errorf("spoke0 has %d messages (%v), waiting for %d", n, err, at)
			}
			return nil
		})
		killAfterConfirm(t, watch, d)
		d.Start()
		nc = connect(t, d)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	waitConfirmed(t, watch, currentLSN(t, watch), 3*time.Minute)

	js, _ := jetstream.New(nc)
	names := js.StreamNames(ctx, jetstream.WithStreamListSubject("syncd.>"))
	var streams []string
	for n := range names.Name() {
		streams = append(streams, n)
	}
	if want := router.TemplateStreamName("spoke", "app"); len(streams) != 1 || streams[0] != want {
		t.Fatalf("streams %v, want only %s", streams, want)
	}
	for i := range spokes {
		scope := fmt.Sprintf("spoke%d", i)
		msgs := readStream(t, nc, scope)
		seen := map[string]bool{}
		var last int64
		for _, m := range msgs {
			id := m.Header.Get("Nats-Msg-Id")
			if seen[id] {
				t.Fatalf("%s: message id %s stored twice", scope, id)
			}
			seen[id] = true
			var row int64
			if _, err := fmt.Sscan(fmt.Sprint(m.Env.After["id"]), &row); err != nil {
				t.Fatal(err)
			}
			if m.Env.Scope.Name != scope || row%spokes != int64(i) || row <= last {
				t.Fatalf("%s: row %d of scope %s after row %d", scope, row, m.Env.Scope.Name, last)
			}
			last = row
		}
		if len(msgs) != txns*rowsPerTxn/spokes {
			t.Fatalf("%s: %d messages, want %d", scope, len(msgs), txns*rowsPerTxn/spokes)
		}
		query := fmt.Sprintf("SELECT id, region, note FROM orders WHERE region = 'r%d' ORDER BY id", i)
		testenv.Eventually(t, 3*time.Minute, time.Second, func() error {
			n1, s1, err := checksum(t, dsn, query)
			if err != nil {
				return err
			}
			n2, s2, err := checksum(t, targets[i], "SELECT id, region, note FROM orders ORDER BY id")
			if err != nil {
				return err
			}
			if n1 != n2 || s1 != s2 {
				return fmt.Errorf("%s: source %d rows (%s), target %d rows (%s)", scope, n1, s1, n2, s2)
			}
			return nil
		})
	}
}
