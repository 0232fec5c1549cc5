// Package torture runs syncd through a randomized, seeded, bounded
// fault-injection run: a PostgreSQL workload across several scopes and
// targets while the harness kills, stops, freezes and restarts syncd, the
// NATS server and both PostgreSQL clusters; then it waits for convergence
// and proves that nothing was lost, duplicated or reordered (docs/torture.md).
//
// TORTURE_SEED replays a run's workload and fault schedule; TORTURE_DURATION
// sets the length of the fault phase (30s by default; `make torture` runs 10m).
package torture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

var syncdBin, natsBin string

func TestMain(m *testing.M) {
	var err error
	if syncdBin, err = testenv.SyncdBinary(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if natsBin, err = testenv.NATSServerBinary(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// settings are a run's knobs, from the environment.
type settings struct {
	seed     uint64
	duration time.Duration // the fault phase
	converge time.Duration // the bound on convergence once faults stop
	largeMin int           // rows of a very large transaction
	largeMax int
	workers  int // concurrent workload connections
}

func loadSettings(t *testing.T) settings {
	s := settings{duration: 30 * time.Second, converge: 3 * time.Minute, workers: 2}
	if v := os.Getenv("TORTURE_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("TORTURE_SEED=%q: %v", v, err)
		}
		s.seed = seed
	} else {
		s.seed = rand.Uint64() >> 1
	}
	if v := os.Getenv("TORTURE_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("TORTURE_DURATION=%q: %v", v, err)
		}
		s.duration = d
	}
	if v := os.Getenv("TORTURE_CONVERGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("TORTURE_CONVERGE=%q: %v", v, err)
		}
		s.converge = d
	}
	// The short run keeps its very large transactions small enough to
	// converge quickly on two cores; the long one uses the real sizes.
	s.largeMin, s.largeMax = 5_000, 15_000
	if s.duration >= 5*time.Minute {
		s.largeMin, s.largeMax = 20_000, 50_000
	}
	if v := os.Getenv("TORTURE_LARGE_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("TORTURE_LARGE_ROWS=%q: want a positive number", v)
		}
		s.largeMin, s.largeMax = max(1, n/2), n
	}
	return s
}

// seeded is a *testing.T whose failures name the seed that replays them.
type seeded struct {
	*testing.T
	seed uint64
}

func (s seeded) replay() string { return fmt.Sprintf("replay with TORTURE_SEED=%d", s.seed) }

func (s seeded) Fatal(args ...any) {
	s.Helper()
	s.T.Fatalf("%s (%s)", fmt.Sprint(args...), s.replay())
}

func (s seeded) Fatalf(format string, args ...any) {
	s.Helper()
	s.T.Fatalf("%s (%s)", fmt.Sprintf(format, args...), s.replay())
}

func (s seeded) Errorf(format string, args ...any) {
	s.Helper()
	s.T.Errorf("%s (%s)", fmt.Sprintf(format, args...), s.replay())
}

// TestTorture is the fault-injection run.
func TestTorture(tt *testing.T) {
	cfg := loadSettings(tt)
	t := seeded{T: tt, seed: cfg.seed}
	t.Logf("torture: seed %d, fault phase %v, very large transactions of %d–%d rows (%s)",
		cfg.seed, cfg.duration, cfg.largeMin, cfg.largeMax, t.replay())
	started := time.Now()

	c := startCluster(t)
	t.Cleanup(func() {
		if dir := os.Getenv("TORTURE_LOG_DIR"); dir != "" {
			path := filepath.Join(dir, fmt.Sprintf("torture-%d-syncd.log", cfg.seed))
			if err := os.WriteFile(path, []byte(c.d.Logs()), 0o644); err == nil {
				tt.Logf("syncd log written to %s", path)
			}
		}
		if tt.Failed() {
			tt.Logf("torture FAILED: %s", t.replay())
		}
	})
	c.d.Start()
	sub := startSubscriber(t, c.nats.URL, scopeNames)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorkload(c.src.DSN("app"), cfg)
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()

	f := newFaults(t, c, cfg.seed)
	f.run(cfg.duration)
	cancel()
	<-done
	t.Logf("workload: %s", w.summary())
	t.Logf("faults: %s", f.summary())

	c.restoreAll()
	w.finish(t) // a last transaction through every scope, on a healthy system
	t.Logf("converging (at most %v)", cfg.converge)
	convStart := time.Now()
	if err := converge(t, c, sub, cfg.converge); err != nil {
		t.Errorf("no convergence within %v: %v", cfg.converge, err)
	} else {
		t.Logf("converged in %v", time.Since(convStart).Round(time.Millisecond))
	}
	verify(t, c, sub)
	if t.Failed() {
		return
	}
	t.Logf("torture passed in %v: seed %d", time.Since(started).Round(time.Second), cfg.seed)
}
