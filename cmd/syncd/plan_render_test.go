package main

import (
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

func TestRenderPlan(t *testing.T) {
	est := &capture.RowCount{Rows: 1234567, Exact: false}
	one := &capture.RowCount{Rows: 1, Exact: true}
	doc := &planDoc{
		Scopes: []scopePlan{
			{Scope: "gone", Action: actionDelete, Stream: "SYNCD_GONE", StreamExists: true,
				Tables: []tablePlan{{Table: "public.a", Action: actionDelete, Delete: one, DeleteAt: []string{"t"}}, {Table: "public.k", Action: actionDelete}}},
			{Scope: "same", Action: actionNone, Stream: "SYNCD_SAME", StreamExists: true,
				Targets: []targetPlan{{Target: "t", Action: actionNone}}},
			{Scope: "moved", Action: actionUpdate, Stream: "SYNCD_MOVED", StreamExists: true,
				Source:   &change{Old: "app", New: "app2"},
				Snapshot: &change{Old: "initial", New: "never"},
				Tables: []tablePlan{
					{Table: "public.b", Action: actionUpdate, Filter: &change{Old: "", New: "x > 1"}, Delete: est,
						Backfill: &capture.RowCount{Exact: true}, ColumnsRemoved: []string{"c"}},
					{Table: "public.c", Action: actionUpdate, TargetTable: &change{Old: "public.c", New: "other.c"}, Backfill: est},
					{Table: "public.d", Action: actionSnapshot, Backfill: one},
					{Table: "public.e", Action: actionUpdate, Mapping: &change{Old: "", New: `{"auto":"exact"}`}, Backfill: one},
				},
				Targets: []targetPlan{
					{Target: "old", Action: actionDelete},
					{Target: "t", Action: actionUpdate, ColumnsToAdd: []tableColumns{{Table: "other.c", Columns: []string{"x", "y"}}}},
				}},
		},
		Sources: []sourcePlan{
			{Source: "app", Publication: "syncd_app", PublicationExists: true, SlotExists: true},
			{Source: "app2", Publication: "syncd_app2", Slot: "syncd_app2"},
			{Source: "app3", Publication: "p3", PublicationExists: true, SlotExists: true,
				PublicationAdd: []string{"public.x"}, PublicationRemove: []string{"public.y"}},
		},
	}
	doc.count()
	var b strings.Builder
	renderPlan(&b, doc)
	want := `- scope gone (the daemon stops publishing it; stream SYNCD_GONE stays)
    - table public.a   (rows to delete at target t: 1 row)
    - table public.k   (kept at the targets, rows and all)
~ scope moved
    ~ source: app  →  app2
    ~ snapshot: initial  →  never
    ~ table public.b
        ~ filter: (every row)  →  x > 1   (backfill = 0 rows, delete ≈ 1,234,567 rows)
        - column c
    ~ table public.c
        ~ target table: public.c  →  other.c   (backfill ≈ 1,234,567 rows)
    ~ table public.d: snapshot still to take   (backfill = 1 row)
    ~ table public.e
        ~ mapping: (none)  →  {"auto":"exact"}   (backfill = 1 row)
    - target old (no longer applied; its tables and checkpoint stay)
    ~ target t
        + target columns other.c: x, y (create_tables is off: create it before running)
~ source app2
    + publication syncd_app2
    + slot syncd_app2
~ source app3
    ~ publication p3: + public.x - public.y

Plan: scopes 0 to create, 1 to change, 1 to delete; tables 0 to create, 4 to change, 2 to delete; targets 0 to create, 1 to change, 1 to delete; sources 2 to change.
`
	if got := b.String(); got != want {
		t.Errorf("renderPlan =\n%s\nwant\n%s", got, want)
	}

	none := &planDoc{Scopes: []scopePlan{{Scope: "same", Action: actionNone, StreamExists: true}},
		Sources: []sourcePlan{{Source: "app", PublicationExists: true, SlotExists: true}}}
	none.count()
	b.Reset()
	renderPlan(&b, none)
	if none.Changes || !strings.HasPrefix(b.String(), "No changes") {
		t.Errorf("plan without changes: Changes %v, text %q", none.Changes, b.String())
	}
	// A scope whose stream is missing is a change even if its definition is not.
	none.Scopes[0].StreamExists = false
	none.count()
	if !none.Changes || none.Summary.ScopesToUpdate != 1 {
		t.Errorf("scope without its stream: Changes %v, summary %+v", none.Changes, none.Summary)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
