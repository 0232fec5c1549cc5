// Package checkpoint holds what capture and apply agree on about progress:
// the in-order ack tracker that turns out-of-order acknowledgements into a
// contiguous durable prefix, and the per-scope checkpoint record.
package checkpoint

import (
	"sync"

	"github.com/syncd-dev/syncd/capture"
)

// Tracker follows source transactions in commit order and reports the
// contiguous prefix of them whose changes are all durable.
//
// Each transaction is added with the number of parts that must be
// acknowledged before it counts as durable (for the router: one per scope
// stream it published to). A transaction with zero parts is durable as soon
// as every earlier one is. Tracker is safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	base    uint64 // id of pending[0]
	pending []entry
	durable capture.Position
}

type entry struct {
	ack   capture.Position
	parts int
}

// NewTracker returns a tracker whose durable position starts at start.
func NewTracker(start capture.Position) *Tracker {
	return &Tracker{base: 1, durable: start}
}

// Add registers the next transaction in commit order and returns its id,
// which Done takes. ack is what Durable reports once the transaction and
// all earlier ones are durable.
func (t *Tracker) Add(ack capture.Position, parts int) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.base + uint64(len(t.pending))
	t.pending = append(t.pending, entry{ack: ack, parts: parts})
	t.advance()
	return id
}

// Done records that one part of transaction id is durable. It panics on an
// id that was never added or is already complete: that is a bug in the
// caller, and guessing would confirm data that is not durable.
func (t *Tracker) Done(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id < t.base || id >= t.base+uint64(len(t.pending)) {
		panic("checkpoint: Done on unknown or completed transaction")
	}
	e := &t.pending[id-t.base]
	if e.parts <= 0 {
		panic("checkpoint: Done called more often than parts")
	}
	e.parts--
	t.advance()
}

// advance pops complete transactions off the front. t.mu is held.
func (t *Tracker) advance() {
	n := 0
	for n < len(t.pending) && t.pending[n].parts == 0 {
		t.durable = t.pending[n].ack
		n++
	}
	if n == 0 {
		return
	}
	t.base += uint64(n)
	// Reuse the backing array once it has drained; otherwise shift.
	t.pending = append(t.pending[:0], t.pending[n:]...)
}

// Durable returns the ack of the last transaction of the durable prefix
// (the start position if none), and whether no transaction is pending.
func (t *Tracker) Durable() (capture.Position, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.durable, len(t.pending) == 0
}

// Pending returns the number of transactions not yet durable.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}
