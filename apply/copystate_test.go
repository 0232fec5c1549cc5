package apply

import (
	"testing"

	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/router"
)

// TestCopyAppliedRecord: the backfill state a commit records, from the
// last one and the copy its transaction holds.
func TestCopyAppliedRecord(t *testing.T) {
	env := func(table string, end bool) *router.RawEnvelope {
		e := &router.RawEnvelope{}
		e.Source.Schema, e.Source.Table, e.Source.Snapshot = "public", table, true
		e.Txn.CopyEnd = end
		return e
	}
	running := &checkpoint.Record{Backfill: checkpoint.BackfillRunning, BackfillTable: "public.a", BackfillRows: 10}
	done := &checkpoint.Record{Backfill: checkpoint.BackfillDone, BackfillTable: "public.a", BackfillRows: 10}
	for _, tt := range []struct {
		name string
		cp   *checkpoint.Record
		msgs []*router.RawEnvelope
		rows int64
		want checkpoint.Record
	}{
		{name: "no copy, no record", want: checkpoint.Record{}},
		{name: "no copy keeps the state", cp: running, want: *running},
		{name: "first chunk", msgs: []*router.RawEnvelope{env("a", false)}, rows: 3,
			want: checkpoint.Record{Backfill: checkpoint.BackfillRunning, BackfillTable: "public.a", BackfillRows: 3}},
		{name: "next chunk adds", cp: running, msgs: []*router.RawEnvelope{env("a", false)}, rows: 3,
			want: checkpoint.Record{Backfill: checkpoint.BackfillRunning, BackfillTable: "public.a", BackfillRows: 13}},
		{name: "last chunk", cp: running, msgs: []*router.RawEnvelope{env("a", false), env("a", true)}, rows: 2,
			want: checkpoint.Record{Backfill: checkpoint.BackfillDone, BackfillTable: "public.a", BackfillRows: 12}},
		{name: "another table starts over", cp: running, msgs: []*router.RawEnvelope{env("b", false)}, rows: 4,
			want: checkpoint.Record{Backfill: checkpoint.BackfillRunning, BackfillTable: "public.b", BackfillRows: 4}},
		{name: "the same table again after done", cp: done, msgs: []*router.RawEnvelope{env("a", true)}, rows: 0,
			want: checkpoint.Record{Backfill: checkpoint.BackfillDone, BackfillTable: "public.a", BackfillRows: 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c copyApplied
			for _, m := range tt.msgs {
				c.note(m)
			}
			c.rows = tt.rows
			var rec checkpoint.Record
			c.record(&rec, tt.cp)
			if rec.Backfill != tt.want.Backfill || rec.BackfillTable != tt.want.BackfillTable || rec.BackfillRows != tt.want.BackfillRows {
				t.Errorf("record = %+v, want %+v", rec, tt.want)
			}
		})
	}
}
