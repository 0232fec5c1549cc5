package torture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// workload writes random transactions to the source from several
// connections. The source is the truth: a transaction whose commit failed
// (the server went away) may or may not have committed, and either is
// fine, since the expected target state is read from the source at the
// end. Ids come from shared counters, so no two statements ever create
// the same key.
type workload struct {
	dsn     string
	cfg     settings
	account atomic.Int64 // last id handed out
	doc     atomic.Int64
	ledger  atomic.Int64
	txn     atomic.Int64

	committed, failed, large, truncates atomic.Int64
	ops                                 sync.Map // op name → *atomic.Int64
}

func newWorkload(dsn string, cfg settings) *workload {
	w := &workload{dsn: dsn, cfg: cfg}
	w.account.Store(seedAccounts)
	w.doc.Store(seedDocs)
	w.ledger.Store(seedLedger)
	return w
}

// run writes until ctx is done.
func (w *workload) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.worker(ctx, i, rand.New(rand.NewPCG(w.cfg.seed, uint64(100+i))))
		}()
	}
	wg.Wait()
}

func (w *workload) worker(ctx context.Context, id int, rng *rand.Rand) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for ctx.Err() == nil {
		if conn == nil {
			var err error
			if conn, err = pgx.Connect(ctx, w.dsn); err != nil {
				conn = nil
				sleep(ctx, 200*time.Millisecond)
				continue
			}
		}
		if err := w.transaction(ctx, conn, id, rng); err != nil {
			w.failed.Add(1)
			if conn.IsClosed() || ctx.Err() != nil {
				conn.Close(context.Background())
				conn = nil
			}
			sleep(ctx, 50*time.Millisecond)
			continue
		}
		w.committed.Add(1)
		sleep(ctx, time.Duration(rng.IntN(15))*time.Millisecond)
	}
}

// step is one statement of a transaction.
type step struct {
	name string
	sql  string
	args []any
}

// transaction writes one random transaction. Its shape depends only on the
// worker's random stream, so a seed replays the same sequence of shapes.
func (w *workload) transaction(ctx context.Context, conn *pgx.Conn, worker int, rng *rand.Rand) error {
	var steps []step
	switch r := rng.IntN(3000); {
	case r < 1: // very large
		steps = w.largeTxn(rng)
		w.large.Add(1)
	case r < 4:
		steps = []step{{name: "truncate ledger", sql: `TRUNCATE ledger`}}
		w.truncates.Add(1)
	case r < 5 && w.cfg.duration >= 5*time.Minute:
		steps = []step{{name: "truncate account", sql: `TRUNCATE account`}}
		w.truncates.Add(1)
	default:
		n := 1 + rng.IntN(8)
		if rng.IntN(10) == 0 {
			n += rng.IntN(200) // medium
		}
		for range n {
			steps = append(steps, w.smallStep(rng))
		}
	}
	txid := w.txn.Add(1)
	steps = append(steps, step{name: "txlog", sql: `INSERT INTO txlog VALUES ($1, $2, $3)`, args: []any{txid, worker, len(steps)}})

	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		w.count(s.name)
	}
	return tx.Commit(ctx)
}

func (w *workload) count(name string) {
	v, _ := w.ops.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

var regions = []any{"eu", "us", "apac", nil}

func (w *workload) pick(rng *rand.Rand, last *atomic.Int64) int64 {
	return 1 + rng.Int64N(last.Load())
}

func balance(rng *rand.Rand) string {
	return fmt.Sprintf("%d.%02d", rng.IntN(3000)-500, rng.IntN(100))
}

func (w *workload) smallStep(rng *rand.Rand) step {
	switch r := rng.IntN(100); {
	case r < 20:
		return step{"insert account", `INSERT INTO account VALUES ($1, $2, $3, $4, $5)`,
			[]any{w.account.Add(1), regions[rng.IntN(len(regions))], balance(rng), words(rng, 3), nilOr(rng, words(rng, 5))}}
	case r < 35:
		return step{"update account balance", `UPDATE account SET balance = $2, name = $3 WHERE id = $1`,
			[]any{w.pick(rng, &w.account), balance(rng), words(rng, 3)}}
	case r < 45:
		return step{"move account region", `UPDATE account SET region = $2 WHERE id = $1`,
			[]any{w.pick(rng, &w.account), regions[rng.IntN(len(regions))]}}
	case r < 50:
		return step{"change account key", `UPDATE account SET id = $2 WHERE id = $1`,
			[]any{w.pick(rng, &w.account), w.account.Add(1)}}
	case r < 56:
		return step{"delete account", `DELETE FROM account WHERE id = $1`, []any{w.pick(rng, &w.account)}}
	case r < 62:
		return step{"insert doc", `INSERT INTO doc VALUES ($1, $2, $3)`,
			[]any{int32(w.doc.Add(1)), title(rng), body(rng)}}
	case r < 70:
		// Leaves body unchanged: sent as an unchanged TOAST value.
		return step{"retitle doc", `UPDATE doc SET title = $2 WHERE id = $1`,
			[]any{int32(w.pick(rng, &w.doc)), title(rng)}}
	case r < 73:
		return step{"rewrite doc", `UPDATE doc SET body = $2 WHERE id = $1`,
			[]any{int32(w.pick(rng, &w.doc)), body(rng)}}
	case r < 75:
		return step{"change doc key", `UPDATE doc SET id = $2 WHERE id = $1`,
			[]any{int32(w.pick(rng, &w.doc)), int32(w.doc.Add(1))}}
	case r < 77:
		return step{"delete doc", `DELETE FROM doc WHERE id = $1`, []any{int32(w.pick(rng, &w.doc))}}
	case r < 85:
		return step{"insert ledger", `INSERT INTO ledger VALUES ($1, $2, $3, $4)`,
			[]any{int32(w.ledger.Add(1)), w.pick(rng, &w.account), int32(rng.IntN(200) - 100), nilOr(rng, words(rng, 2))}}
	case r < 93:
		return step{"update ledger amount", `UPDATE ledger SET amount = $2 WHERE id = $1`,
			[]any{int32(w.pick(rng, &w.ledger)), int32(rng.IntN(200) - 100)}}
	case r < 95:
		return step{"change ledger key", `UPDATE ledger SET id = $2 WHERE id = $1`,
			[]any{int32(w.pick(rng, &w.ledger)), int32(w.ledger.Add(1))}}
	default:
		return step{"delete ledger", `DELETE FROM ledger WHERE id = $1`, []any{int32(w.pick(rng, &w.ledger))}}
	}
}

// largeTxn is one statement over many rows: an insert, an update that
// moves rows across the filters, or a delete.
func (w *workload) largeTxn(rng *rand.Rand) []step {
	n := w.cfg.largeMin + rng.IntN(w.cfg.largeMax-w.cfg.largeMin+1)
	switch rng.IntN(3) {
	case 0:
		first := w.account.Add(int64(n)) - int64(n) + 1
		return []step{{"large insert", `INSERT INTO account
			SELECT g, (ARRAY['eu','us','apac',NULL])[g % 4 + 1], (g * 13 % 3000) - 500, 'bulk ' || g, NULL
			FROM generate_series($1::bigint, $2::bigint) g`, []any{first, first + int64(n) - 1}}}
	case 1:
		from := w.pick(rng, &w.account)
		return []step{{"large update", `UPDATE account SET
			region = (ARRAY['eu','us','apac',NULL])[(id + $3::int) % 4 + 1], balance = balance + $3::int
			WHERE id BETWEEN $1::bigint AND $2::bigint`, []any{from, from + int64(n), rng.IntN(1000) - 500}}}
	default:
		from := w.pick(rng, &w.account)
		return []step{{"large delete", `DELETE FROM account WHERE id BETWEEN $1 AND $2`, []any{from, from + int64(n/2)}}}
	}
}

// finish writes one last transaction that touches every scope, on a
// healthy system.
func (w *workload) finish(t seeded) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, w.dsn)
	if err != nil {
		t.Fatalf("connect to the source: %v", err)
	}
	defer conn.Close(context.Background())
	id := w.account.Add(1)
	_, err = conn.Exec(ctx, `BEGIN;
		INSERT INTO account VALUES (`+fmt.Sprint(id)+`, 'eu', 5000, 'final', NULL);
		INSERT INTO doc VALUES (`+fmt.Sprint(w.doc.Add(1))+`, 'b final', 'the end');
		INSERT INTO ledger VALUES (`+fmt.Sprint(w.ledger.Add(1))+`, `+fmt.Sprint(id)+`, 1, 'final');
		INSERT INTO txlog VALUES (`+fmt.Sprint(w.txn.Add(1))+`, -1, 3);
		COMMIT`)
	if err != nil {
		t.Fatalf("final transaction: %v", err)
	}
}

func (w *workload) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d transactions committed, %d failed or cut by faults, %d very large, %d truncates; ops:",
		w.committed.Load(), w.failed.Load(), w.large.Load(), w.truncates.Load())
	w.ops.Range(func(k, v any) bool {
		fmt.Fprintf(&b, " %s=%d", k, v.(*atomic.Int64).Load())
		return true
	})
	return b.String()
}

var vocabulary = strings.Fields("apple beta cedar delta ember fjord garnet harbor iris jade kelp lumen moss nova opal pine quartz reed sage tide")

func words(rng *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = vocabulary[rng.IntN(len(vocabulary))]
	}
	return strings.Join(w, " ")
}

func nilOr(rng *rand.Rand, s string) any {
	if rng.IntN(3) == 0 {
		return nil
	}
	return s
}

// title starts with "b" a third of the time: those docs are in scope rich.
func title(rng *rand.Rand) string {
	return []string{"alpha ", "beta ", "gamma "}[rng.IntN(3)] + words(rng, 2)
}

// body is small or, one time in three, large enough to be stored out of
// line (TOAST) and, in updates that do not touch it, sent as unchanged.
func body(rng *rand.Rand) any {
	switch rng.IntN(6) {
	case 0:
		return nil
	case 1, 2:
		return words(rng, 1+rng.IntN(20))
	default:
		n := 2_000 + rng.IntN(40_000)
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(vocabulary[rng.IntN(len(vocabulary))])
			b.WriteByte(' ')
		}
		return b.String()
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
