package router

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// CopyStatus is a copy of a scope table for one target (a target added
// to the scope, or a resync), as /scopes shows it. Progress in rows and
// percent is in the source's snapshot status while it is being copied.
type CopyStatus struct {
	Table  string `json:"table"`
	Target string `json:"target"`
	// State is waiting (for the source to take it) or copying.
	State   string    `json:"state"`
	Rows    int64     `json:"rows"`              // published so far
	Resyncs []string  `json:"resyncs,omitempty"` // ids of the resyncs it serves
	Since   time.Time `json:"since"`             // when it was asked for, or began copying
}

// copyStates is what Router.Status reports of copies for one target.
// The router goroutine writes it; Status reads it from any goroutine.
type copyStates struct {
	mu sync.Mutex
	m  map[tableKey]*CopyStatus
}

// set records k's state, keeping its rows.
func (c *copyStates) set(k tableKey, state string, resyncs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[tableKey]*CopyStatus)
	}
	s := c.m[k]
	if s == nil || s.State != state {
		s = &CopyStatus{Table: k.table.String(), Target: k.target, State: state, Since: time.Now().UTC()}
		c.m[k] = s
	}
	s.Resyncs = slices.Clone(resyncs)
}

// row counts a row published for k.
func (c *copyStates) row(k tableKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.m[k]; s != nil {
		s.Rows++
	}
}

func (c *copyStates) done(k tableKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

// of returns the copies of scope, by table and target.
func (c *copyStates) of(scope string) []CopyStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []CopyStatus
	for k, s := range c.m {
		if k.scope == scope {
			out = append(out, *s)
		}
	}
	slices.SortFunc(out, func(a, b CopyStatus) int {
		if c := strings.Compare(a.Table, b.Table); c != 0 {
			return c
		}
		return strings.Compare(a.Target, b.Target)
	})
	return out
}
