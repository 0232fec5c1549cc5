package torture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"time"
)

// fault is one kind of damage: inject it, hold it for a while, repair it.
// Faults run one at a time, so that each repair finds the rest healthy.
type fault struct {
	name   string
	inject func(c *cluster)
	repair func(c *cluster)
}

var faultKinds = []fault{
	{"SIGKILL syncd", func(c *cluster) { c.d.Kill() }, func(c *cluster) { c.d.Start() }},
	{"SIGSTOP syncd", func(c *cluster) { c.d.Signal(syscall.SIGSTOP) }, func(c *cluster) { c.d.Signal(syscall.SIGCONT) }},
	{"stop NATS", func(c *cluster) { c.nats.Stop(c.t) }, func(c *cluster) { c.nats.Start(c.t) }},
	{"SIGKILL NATS", func(c *cluster) { c.nats.Kill(c.t) }, func(c *cluster) { c.nats.Start(c.t) }},
	{"SIGSTOP NATS", func(c *cluster) { c.nats.Signal(syscall.SIGSTOP) }, func(c *cluster) { c.nats.Signal(syscall.SIGCONT) }},
	{"restart target PostgreSQL", func(c *cluster) { c.dst.Stop(c.t) }, func(c *cluster) { c.dst.Start(c.t) }},
	{"restart source PostgreSQL", func(c *cluster) { c.src.Stop(c.t) }, func(c *cluster) { c.src.Start(c.t) }},
	{"SIGKILL syncd and NATS", func(c *cluster) { c.d.Kill(); c.nats.Kill(c.t) }, func(c *cluster) { c.nats.Start(c.t); c.d.Start() }},
}

// faults runs a seeded schedule of faults: every kind once in a shuffled
// order, then again in a new order, and so on, with random hold times and
// gaps.
type faults struct {
	t    seeded
	c    *cluster
	rng  *rand.Rand
	deck []int
	log  []string
}

func newFaults(t seeded, c *cluster, seed uint64) *faults {
	return &faults{t: t, c: c, rng: rand.New(rand.NewPCG(seed, 1))}
}

func (f *faults) next() fault {
	if len(f.deck) == 0 {
		f.deck = f.rng.Perm(len(faultKinds))
	}
	k := faultKinds[f.deck[0]]
	f.deck = f.deck[1:]
	return k
}

// between returns a random duration in [lo, hi).
func (f *faults) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(f.rng.Int64N(int64(hi-lo)))
}

// run injects faults until d has passed, and leaves everything running.
func (f *faults) run(d time.Duration) {
	f.t.Helper()
	start := time.Now()
	maxHold := 3 * time.Second
	if d >= 5*time.Minute {
		maxHold = 8 * time.Second
	}
	for n := 1; time.Since(start) < d; n++ {
		gap, hold := f.between(500*time.Millisecond, 3*time.Second), f.between(200*time.Millisecond, maxHold)
		k := f.next()
		sleep(context.Background(), gap)
		f.checkSyncd()
		at := time.Since(start).Round(time.Millisecond)
		f.t.Logf("fault %d at %v: %s for %v", n, at, k.name, hold.Round(time.Millisecond))
		f.log = append(f.log, fmt.Sprintf("%v %s %v", at, k.name, hold.Round(time.Millisecond)))
		k.inject(f.c)
		sleep(context.Background(), hold)
		k.repair(f.c)
	}
	f.checkSyncd()
}

// checkSyncd fails the test if syncd exited without being killed, and
// starts it again so that the run goes on.
func (f *faults) checkSyncd() {
	f.t.Helper()
	select {
	case <-f.c.d.Exited():
		f.t.Errorf("syncd exited by itself (not killed by the harness)")
		f.c.d.Start()
	default:
	}
}

func (f *faults) summary() string {
	return fmt.Sprintf("%d injected: %s", len(f.log), strings.Join(f.log, "; "))
}

// restoreAll makes sure every process runs and none is frozen.
func (c *cluster) restoreAll() {
	c.nats.Signal(syscall.SIGCONT)
	c.d.Signal(syscall.SIGCONT)
	select {
	case <-c.d.Exited():
		c.d.Start()
	default:
	}
}
