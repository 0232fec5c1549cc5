// Command bench measures syncd on throwaway local servers. Every figure is
// a ratio against a baseline measured in the same run, because machines
// are noisy and absolute numbers drift. It prints a table and writes
// bench/results.json. `make bench` runs it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

var snapshotParallelism = flag.Int("snapshot-parallelism", 0, "snapshot_parallelism of the sources in the snapshot, backfill and mysql-snapshot runs; 0 leaves the default")

// parallelismSetting is the source attribute -snapshot-parallelism asks
// for, or nothing.
func parallelismSetting() string {
	if *snapshotParallelism <= 0 {
		return ""
	}
	return fmt.Sprintf("\n  snapshot_parallelism = %d", *snapshotParallelism)
}

var rowsPerMessage = flag.Int("rows-per-message", 1, "rows_per_message of the scopes in the capture, e2e, mysql-capture and mysql-e2e runs")

// packedRowsPerMessage is the rows_per_message of the e2e-packed part, the
// setting docs/configuration.md recommends for scopes that feed targets.
const packedRowsPerMessage = 100

var cpuProfile = flag.String("cpuprofile", "", "save a CPU profile of syncd during the capture run to this `file`, and profiles of other runs next to it (.e2e, .pgbench, .snapshot CPU; .heap after the applied large transaction)")

// result is one measured figure.
type result struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Baseline string  `json:"baseline,omitempty"`
	BaseVal  float64 `json:"baseline_value,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	Goal     string  `json:"goal,omitempty"`
	Met      *bool   `json:"met,omitempty"`
}

func main() {
	rows := flag.Int("rows", 1_000_000, "rows in the throughput and large-transaction runs")
	txnRows := flag.Int("txn-rows", 1000, "rows per transaction in the throughput run")
	out := flag.String("json", "bench/results.json", "where to write the results")
	lagSeconds := flag.Int("lag-seconds", 30, "how long pgbench runs while lag is measured")
	quick := flag.Bool("quick", os.Getenv("BENCH_QUICK") != "", "small runs for development (also BENCH_QUICK=1)")
	only := flag.String("only", "", "run only these `parts`, comma-separated: capture, rss, e2e, e2e-packed, twoway, lag, pgbench, scopes, spokes, width, transforms, snapshot, backfill, mysql-capture, mysql-e2e, mysql-snapshot")
	flag.Parse()
	// want reports whether to run a part. Before each part it flushes the
	// page cache's dirty pages, so that one part's writes do not slow the
	// fsyncs of the next.
	want := func(part string) bool {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), part) {
			return false
		}
		syscall.Sync()
		return true
	}
	// The scopes run's rows (16 scopes publish 16 messages per row); the
	// width run's 100 B rows (fewer wider ones); pgbench's scale and
	// backlog in transactions.
	scopeRows, widthRows, pgbenchScale, pgbenchTxns := *rows/4, 200_000, 10, 100_000
	if *quick {
		// Under two minutes in all on an idle two-core machine.
		*rows, *lagSeconds = 100_000, 8
		scopeRows, widthRows, pgbenchScale, pgbenchTxns = 20_000, 20_000, 2, 10_000
	}
	bin := os.Getenv("SYNCD_BIN")
	if bin == "" {
		log.Fatal("set SYNCD_BIN to a built syncd binary (make bench does)")
	}

	env := newEnv()
	defer env.Close()
	var results []result
	// JetStream alone bounds both capture rates; measure it once.
	var ceiling float64
	jetStreamAlone := func() float64 {
		if ceiling == 0 {
			ceiling = natsCeiling(env, *rows, max(1, *rowsPerMessage))
		}
		return ceiling
	}
	var pg *testenv.Postgres
	if slices.ContainsFunc([]string{"capture", "rss", "e2e", "e2e-packed", "twoway", "lag", "pgbench", "scopes", "spokes", "width", "transforms", "snapshot", "backfill"}, want) {
		pg = testenv.StartPostgres(env, testenv.WithSetting("max_wal_size", "8GB"), testenv.WithSetting("checkpoint_timeout", "30min"))
	}
	if want("capture") {
		capture, cpu := captureThroughput(env, pg, bin, *rows, *txnRows)
		results = append(results, capture,
			ratioResult(variant("capture rows/s against JetStream alone"), "rows/s", capture.Value, jetStreamBaseline(), jetStreamAlone(), "", 0),
			cpu)
	}
	if want("rss") {
		results = append(results, largeTransactionRSS(env, pg, bin, *rows, false), largeTransactionRSS(env, pg, bin, *rows, true))
	}
	if want("scopes") {
		results = append(results, scopeScaling(env, pg, bin, scopeRows, *txnRows)...)
	}
	if want("spokes") {
		results = append(results, spokeScaling(env, pg, bin)...)
	}
	if want("width") {
		results = append(results, rowWidth(env, pg, bin, widthRows, *txnRows)...)
	}
	if want("transforms") {
		results = append(results, transformCost(env, pg, bin, scopeRows, *txnRows)...)
	}
	if slices.ContainsFunc([]string{"e2e", "e2e-packed", "twoway", "lag", "pgbench", "snapshot", "backfill"}, want) {
		dst := testenv.StartPostgres(env, testenv.WithSetting("max_wal_size", "8GB"))
		if want("e2e") {
			e2e, e2eCPU := endToEnd(env, pg, dst, bin, *rows, *txnRows, *rowsPerMessage)
			results = append(results, e2e, e2eCPU)
		}
		// Replication between databases is what rows_per_message is
		// for, so the catch-up also runs with it.
		if *rowsPerMessage == 1 && want("e2e-packed") {
			e2e, e2eCPU := endToEnd(env, pg, dst, bin, *rows, *txnRows, packedRowsPerMessage)
			results = append(results, e2e, e2eCPU)
		}
		if want("twoway") {
			results = append(results, twoWayCatchUp(env, pg, dst, bin, *rows, *txnRows))
		}
		if want("lag") {
			results = append(results, lagUnderLoad(env, pg, dst, bin, *lagSeconds)...)
		}
		if want("pgbench") {
			results = append(results, pgbenchCatchUp(env, pg, dst, bin, pgbenchScale, pgbenchTxns))
		}
		if want("snapshot") {
			snap, snapCPU := initialSnapshot(env, pg, dst, bin, *rows)
			// The bound JetStream sets on it: its messages stored and
			// read back, with nothing else of syncd's work.
			results = append(results, snap, snapCPU,
				ratioResult("initial snapshot rows/s against JetStream alone", "rows/s", snap.Value, "rows/s, JetStream alone (publish + consume of 1,000-row messages, fsync)", natsSnapshotCeiling(env, *rows), "", 0))
		}
		if want("backfill") {
			results = append(results, backfill(env, pg, dst, bin, *rows)...)
		}
	}
	if slices.ContainsFunc([]string{"mysql-capture", "mysql-e2e", "mysql-snapshot"}, want) {
		my := testenv.StartMariaDB(env)
		if want("mysql-capture") {
			capture, cpu := binlogCapture(env, my, bin, *rows, *txnRows)
			results = append(results, capture,
				ratioResult(variant("binlog capture rows/s against JetStream alone"), "rows/s", capture.Value, jetStreamBaseline(), jetStreamAlone(), "", 0),
				cpu)
		}
		if want("mysql-e2e") {
			e2e, e2eCPU := mysqlEndToEnd(env, my, bin, *rows, *txnRows)
			results = append(results, e2e, e2eCPU)
		}
		if want("mysql-snapshot") {
			snap, snapCPU := mysqlInitialSnapshot(env, my, bin, *rows)
			results = append(results, snap, snapCPU)
		}
	}

	print(results)
	if err := write(*out, results); err != nil {
		log.Fatal(err)
	}
}

func print(results []result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "measure\tsyncd\tbaseline\tratio\tgoal\t")
	for _, r := range results {
		base, ratio := "", ""
		if r.Baseline != "" {
			base = fmt.Sprintf("%s %s", human(r.BaseVal), r.Baseline)
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		goal := r.Goal
		if r.Met != nil {
			goal += map[bool]string{true: " ok", false: " MISSED"}[*r.Met]
		}
		fmt.Fprintf(w, "%s\t%s %s\t%s\t%s\t%s\t\n", r.Name, human(r.Value), r.Unit, base, ratio, goal)
	}
	w.Flush()
}

func human(v float64) string {
	switch {
	case v >= 10_000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func write(path string, results []result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	host, _ := os.Hostname()
	doc := map[string]any{
		"time":    time.Now().UTC().Format(time.RFC3339),
		"machine": map[string]any{"host": host, "cpus": runtime.NumCPU(), "os": runtime.GOOS, "arch": runtime.GOARCH, "cpu_model": cpuModel()},
		"results": results,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ratioResult is a figure with its baseline; with a goal, whether the
// ratio reaches min.
func ratioResult(name, unit string, value float64, baseline string, base float64, goal string, min float64) result {
	r := result{Name: name, Value: value, Unit: unit, Baseline: baseline, BaseVal: base, Goal: goal}
	if base > 0 {
		r.Ratio = value / base
	}
	if goal != "" {
		met := r.Ratio >= min
		r.Met = &met
	}
	return r
}
