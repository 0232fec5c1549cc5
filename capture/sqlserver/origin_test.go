package sqlserver

// Issue 19, origin marks on the capture side. TestContextClause is
// layer 1 (no I/O); TestOriginMarksVersion runs the poll loop over the
// change tracking MODEL (layer 2): it proves what the source does with
// the contexts CHANGETABLE returns, not that SQL Server returns them so
// (TestLiveSQLServer, layer 4, never run). Microsoft's documentation
// relied on:
//   - WITH CHANGE_TRACKING_CONTEXT ( context ): "context is
//     varbinary(128). The value can be a constant or a variable, but
//     cannot be NULL"; it prefixes INSERT, UPDATE, DELETE and MERGE:
//     https://learn.microsoft.com/sql/relational-databases/system-functions/with-change-tracking-context-transact-sql
//   - CHANGETABLE (CHANGES table, last_sync_version) returns
//     SYS_CHANGE_CONTEXT varbinary(128), "Change context information that
//     you can optionally specify by using the WITH clause as part of an
//     INSERT, UPDATE, or DELETE statement", of the row's last change (the
//     net change):
//     https://learn.microsoft.com/sql/relational-databases/system-functions/changetable-transact-sql

import (
	"context"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

// TestContextClause: the clause holds the origin's bytes as a binary
// constant, which contextOrigin reads back as the origin; no origin, no
// clause; an origin longer than a context is an error, not a cut name;
// contexts not written by syncd name no origin.
func TestContextClause(t *testing.T) {
	origin := capture.SyncdOrigin("app", "orders", "erp")
	c, err := ContextClause(origin)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^WITH CHANGE_TRACKING_CONTEXT \(0x([0-9A-F]+)\)\n$`).FindStringSubmatch(c)
	if m == nil {
		t.Fatalf("ContextClause = %q", c)
	}
	b, err := hex.DecodeString(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if got := contextOrigin(b); got != origin {
		t.Errorf("the context reads back as origin %q, want %q", got, origin)
	}
	if c, err := ContextClause(""); c != "" || err != nil {
		t.Errorf(`ContextClause("") = %q, %v`, c, err)
	}
	long := capture.SyncdOrigin("app", strings.Repeat("s", 120), "erp")
	if _, err := ContextClause(long); err == nil {
		t.Errorf("an origin of %d bytes gave no error", len(long))
	}
	for _, ctx := range [][]byte{nil, []byte("syncd"), []byte("MyApplicationID"), []byte("syncd:"), {0xff, 0}} {
		if got := contextOrigin(ctx); got != "" {
			t.Errorf("contextOrigin(%q) = %q, want none", ctx, got)
		}
	}
}

// TestOriginMarksVersion: a version whose changes carry one syncd origin
// is passed as a transaction with that Txn.Origin (the router then keeps
// it from the database it came from); others' versions carry none; a
// version mixing contexts is passed unmarked; a row changed by another
// writer and then by syncd is seen once, marked (net changes); changes
// with SkipContext are not passed at all.
func TestOriginMarksVersion(t *testing.T) {
	ctx := context.Background()
	a, b := modelTableOf("a", "x"), modelTableOf("b", "x")
	m := newModel(a, b)
	rep := newReplica(t, true, a, b)
	rep.keep = true
	_, ss := newTestSession(t, Config{Store: &memStore{}, SkipContext: []byte("maintenance")}, m, rep, a, b)
	if _, _, err := ss.poll(ctx); err != nil { // the (empty) snapshot
		t.Fatal(err)
	}
	mine := []byte(capture.SyncdOrigin("pg", "orders", "erp"))
	m.upsert(a, capture.Row{int64(1), int64(1)}, nil, nil)                   // an application's
	m.upsert(a, capture.Row{int64(2), int64(2)}, nil, mine)                  // syncd's
	m.upsert(a, capture.Row{int64(3), int64(3)}, nil, []byte("maintenance")) // skipped
	m.txn(func() {                                                           // mixed
		m.upsert(a, capture.Row{int64(4), int64(4)}, nil, mine)
		m.upsert(b, capture.Row{int64(4), int64(4)}, nil, []byte("app"))
	})
	m.upsert(b, capture.Row{int64(5), int64(5)}, nil, nil)       // an application's …
	m.upsert(b, capture.Row{int64(5), int64(6)}, []int{1}, mine) // … then syncd's
	m.txn(func() {                                               // syncd's, two tables
		m.upsert(a, capture.Row{int64(6), int64(6)}, nil, mine)
		m.upsert(b, capture.Row{int64(6), int64(6)}, nil, mine)
	})
	if _, _, err := ss.poll(ctx); err != nil {
		t.Fatal(err)
	}
	type seen struct {
		table  string
		id     any
		origin string
	}
	var got []seen
	for _, ev := range rep.changes {
		if ev.Txn.Snapshot {
			continue
		}
		got = append(got, seen{ev.Table.Name, ev.After[0], ev.Txn.Origin})
	}
	o := string(mine)
	want := []seen{{"a", int64(1), ""}, {"a", int64(2), o}, {"a", int64(4), ""}, {"b", int64(4), ""}, {"b", int64(5), o}, {"a", int64(6), o}, {"b", int64(6), o}}
	if len(got) != len(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d is %v, want %v", i, got[i], want[i])
		}
	}
}
