package apply_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestWorkerMergesWholeTransactions: consecutive source transactions go
// into one target transaction until it holds MaxRows rows, and a source
// transaction larger than MaxRows is committed whole, in one target
// transaction. A trigger at the target records the transaction that
// wrote each row. MaxTime and IdleCommit are out of reach, so that only
// MaxRows and the source transactions' ends decide, whatever the timing.
func TestWorkerMergesWholeTransactions(t *testing.T) {
	g := newRig(t, scopes.KindPostgres, "never")
	for _, q := range []string{
		`CREATE TABLE public.product (id integer PRIMARY KEY, name text)`,
		`CREATE TABLE public.product_txn (id integer, txid bigint)`,
		`CREATE FUNCTION public.product_txn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.product_txn VALUES (NEW.id, txid_current());
  RETURN NEW;
END $$`,
		`CREATE TRIGGER product_txn AFTER INSERT OR UPDATE ON public.product FOR EACH ROW EXECUTE FUNCTION public.product_txn()`,
	} {
		if _, err := g.check.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	g.tune = func(c *apply.Config) { c.MaxRows, c.MaxTime, c.IdleCommit = 6, time.Hour, time.Hour }
	g.run()

	r := g.router()
	for i := range 9 { // 9 transactions of 2 rows: ids 1 to 18
		g.txn(r, capture.Position(100*(i+1)), product, false, true, 2*i+1, 2*i+2)
	}
	g.txn(r, 1000, product, false, true, seq(101, 120)...) // 20 rows, over MaxRows
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if st := g.worker.Status(); st.Position != 1000 || st.RowsApplied != 38 {
			return fmt.Errorf("worker at %s with %d rows applied (%s %s), want 0/3E8 with 38", st.Position, st.RowsApplied, st.State, st.Error)
		}
		return nil
	})

	rows, err := g.check.Query(`SELECT string_agg(id::text, ' ' ORDER BY id) FROM public.product_txn GROUP BY txid ORDER BY min(id)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var txns []string
	for rows.Next() {
		var ids string
		must(t, rows.Scan(&ids))
		txns = append(txns, "["+ids+"]")
	}
	must(t, rows.Err())
	want := []string{"[1 2 3 4 5 6]", "[7 8 9 10 11 12]", "[13 14 15 16 17 18]", fmt.Sprint(seq(101, 120))}
	if got := strings.Join(txns, " "); got != strings.Join(want, " ") {
		t.Errorf("rows by target transaction:\n%s\nwant\n%s", got, strings.Join(want, " "))
	}
	var m dto.Metric
	must(t, g.m.TxnDuration.WithLabelValues("s", "t").(prometheus.Metric).Write(&m))
	if n := m.GetHistogram().GetSampleCount(); n != uint64(len(want)) {
		t.Errorf("syncd_apply_txn_seconds counts %d target transactions, want %d", n, len(want))
	}
}
