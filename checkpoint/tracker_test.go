package checkpoint

import (
	"math/rand"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

func TestTrackerContiguousPrefix(t *testing.T) {
	tr := NewTracker(10)
	a := tr.Add(100, 2)
	b := tr.Add(200, 1)
	c := tr.Add(300, 0) // no messages: durable once a and b are

	check := func(wantPos capture.Position, wantIdle bool) {
		t.Helper()
		pos, idle := tr.Durable()
		if pos != wantPos || idle != wantIdle {
			t.Fatalf("Durable() = %v, %v; want %v, %v", pos, idle, wantPos, wantIdle)
		}
	}
	check(10, false)
	tr.Done(b) // later transaction done first: nothing advances
	check(10, false)
	tr.Done(a)
	check(10, false) // a still has a part outstanding
	tr.Done(a)
	check(300, true) // a, b and the empty c all durable
	_ = c
	d := tr.Add(400, 0)
	check(400, true)
	_ = d
}

func TestTrackerDonePanicsOnUnknownID(t *testing.T) {
	tr := NewTracker(0)
	id := tr.Add(1, 1)
	tr.Done(id)
	defer func() {
		if recover() == nil {
			t.Fatal("Done on a completed transaction did not panic")
		}
	}()
	tr.Done(id)
}

// TestTrackerRandomOrder acks parts in random order and checks that the
// durable position never passes a transaction with a part outstanding.
func TestTrackerRandomOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	tr := NewTracker(0)
	type part struct{ id uint64 }
	var parts []part
	left := map[uint64]int{}
	for i := 1; i <= 2000; i++ {
		n := rng.Intn(3)
		id := tr.Add(capture.Position(i), n)
		left[id] = n
		for range n {
			parts = append(parts, part{id})
		}
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	for _, p := range parts {
		tr.Done(p.id)
		left[p.id]--
		pos, _ := tr.Durable()
		for id := uint64(1); id <= uint64(pos); id++ {
			if left[id] != 0 {
				t.Fatalf("durable %v passes transaction %d with %d parts outstanding", pos, id, left[id])
			}
		}
		if next := uint64(pos) + 1; next <= 2000 && left[next] == 0 && tr.Pending() > 0 {
			// the next transaction is complete, so the prefix should have moved past it
			t.Fatalf("durable %v stops before complete transaction %d", pos, next)
		}
	}
	if pos, idle := tr.Durable(); pos != 2000 || !idle {
		t.Fatalf("after all parts: Durable() = %v, %v; want 0/7D0, true", pos, idle)
	}
}
