package capture

import "context"

// Switch names a scope definition version that takes effect at a switch
// point in the source log (DESIGN.md §8): the changes before the point
// are routed by the scope's previous definition, the changes from it on
// by this one, in every replay of the log.
type Switch struct {
	Scope   string `json:"scope"`
	Version int    `json:"version"`
}

// A Switcher is a Sink whose scopes change definition at switch points.
//
// A source that supports switch points calls Switches when Run starts,
// before it takes any snapshot, and writes one switch point for each into
// its own log, each in a transaction of its own that is committed before
// the first watermark or snapshot of the session (PostgreSQL: a
// transactional logical decoding message; MySQL: a row of the signal
// table). When it reads a switch point back from its log, written by
// this run or an earlier one, it calls Switched between Begin and Commit
// of the transaction holding it.
//
// A sink takes a version whose switch point no source writes (Switches
// was not called when the first transaction begins) into effect at once.
type Switcher interface {
	// Switches returns the versions waiting for their switch points.
	Switches() []Switch
	// Switched passes a switch point read from the log, in the
	// transaction txn. The sink ignores a switch point it has already
	// placed, or of a version it does not wait for.
	Switched(ctx context.Context, txn *Txn, sw Switch) error
}
