package applytest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/router"
)

// CheckpointOptions say what differs in what targets keep of a
// checkpoint record.
type CheckpointOptions struct {
	// StreamSeq is a large stream sequence the scope_info table holds.
	StreamSeq uint64
	// JSONText: the definition and column schema come back as written,
	// not only equal in value.
	JSONText bool
}

// CheckpointRoundTrip: Commit writes the record that Checkpoint reads
// back, field for field; a later commit replaces it, but for the
// definition and column schema where it has none; sources are apart. e
// is fresh, its Target configured to record syncd version "v1.2.3"
// where a record has none; items is the items table of Tables, which e
// holds.
func CheckpointRoundTrip(t *testing.T, e Env, items *router.TableSchema, o CheckpointOptions) {
	ctx := Context(t)
	var eq cmp.Option = cmp.Comparer(sameJSON)
	if o.JSONText {
		eq = cmp.Options{}
	}

	// No scope_info table yet.
	if _, ok, err := e.Target.Checkpoint(ctx, "s", "app"); err != nil || ok {
		t.Fatalf("Checkpoint before Prepare = ok %v, err %v; want no checkpoint", ok, err)
	}
	if err := e.Target.Prepare(ctx, "s", []*router.TableSchema{items}); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if _, ok, err := e.Target.Checkpoint(ctx, "s", "app"); err != nil || ok {
		t.Fatalf("Checkpoint before any commit = ok %v, err %v; want no checkpoint", ok, err)
	}

	rec := checkpoint.Record{
		Scope:        "s",
		Source:       "app",
		ScopeVersion: 3,
		Definition:   json.RawMessage(`{"tables":["public.items"], "where":"qty > 0 AND name = 'ü'"}`),
		ColumnSchema: json.RawMessage(`[{"target":{"schema":"public","name":"items"}}]`),
		Position:     0x16B3748_0000_0001,
		StreamSeq:    o.StreamSeq,
		AppliedAt:    time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC),
		TxnDuration:  1500 * time.Microsecond,
		RowsApplied:  1 << 33,
		Backfill:     checkpoint.BackfillRunning, BackfillTable: "public.items", BackfillRows: 1 << 32,
	}
	if err := Run(ctx, e.Target, false, rec); err != nil {
		t.Fatal(err)
	}
	other := Record(5)
	other.Source = "other"
	other.SyncdVersion = "v9"
	if err := Run(ctx, e.Target, true, other); err != nil {
		t.Fatal(err)
	}

	got, ok, err := e.Target.Checkpoint(ctx, "s", "app")
	if err != nil || !ok {
		t.Fatalf("Checkpoint = ok %v, err %v", ok, err)
	}
	want := rec
	want.SyncdVersion = "v1.2.3" // from the config: the record had none
	if diff := cmp.Diff(want, got, eq); diff != "" {
		t.Errorf("Checkpoint (-want +got):\n%s", diff)
	}

	// A later commit replaces the row, but for a definition and column
	// schema it leaves out (nil): those stay as stored.
	rec.Position++
	rec.RowsApplied++
	rec.Backfill, rec.BackfillRows = checkpoint.BackfillDone, rec.BackfillRows+1
	rec.Definition, rec.ColumnSchema = nil, nil
	if err := Run(ctx, e.Target, false, rec); err != nil {
		t.Fatal(err)
	}
	got, _, err = e.Target.Checkpoint(ctx, "s", "app")
	if err != nil {
		t.Fatal(err)
	}
	want.Position, want.RowsApplied = rec.Position, rec.RowsApplied
	want.Backfill, want.BackfillRows = rec.Backfill, rec.BackfillRows
	if diff := cmp.Diff(want, got, eq); diff != "" {
		t.Errorf("Checkpoint after a commit without definition (-want +got):\n%s", diff)
	}

	// One with them replaces them.
	rec.ScopeVersion++
	rec.Definition = json.RawMessage(`{"tables":["public.items"]}`)
	rec.ColumnSchema = json.RawMessage(`[]`)
	if err := Run(ctx, e.Target, false, rec); err != nil {
		t.Fatal(err)
	}
	got, _, err = e.Target.Checkpoint(ctx, "s", "app")
	if err != nil {
		t.Fatal(err)
	}
	want.ScopeVersion, want.Definition, want.ColumnSchema = rec.ScopeVersion, rec.Definition, rec.ColumnSchema
	if diff := cmp.Diff(want, got, eq); diff != "" {
		t.Errorf("Checkpoint after a new definition (-want +got):\n%s", diff)
	}
	if got, _, _ := e.Target.Checkpoint(ctx, "s", "other"); got.Position != 5 || got.SyncdVersion != "v9" || got.Backfill != checkpoint.BackfillNone {
		t.Errorf("Checkpoint of the other source = %+v", got)
	}
}

// ScopeInfoMigration: a scope_info table created by a syncd before the
// backfill columns (oldDDL, which creates it with the columns of
// ScopeInfo up to syncd_version, and oldRow, which inserts the row of
// scope s, source app, at position 0/7) reads as no backfill before
// Prepare, as `syncd plan` reads it before a daemon of this version
// migrated it; it gets them on Prepare: its row reads as no backfill, and
// the next commit writes the backfill state. Prepare again changes
// nothing. e is fresh.
func ScopeInfoMigration(t *testing.T, e Env, items *router.TableSchema, oldDDL, oldRow string) {
	ctx := Context(t)
	e.Exec(oldDDL, oldRow)
	if got, ok, err := e.Target.Checkpoint(ctx, "s", "app"); err != nil || !ok || got.Position != 7 || got.Backfill != checkpoint.BackfillNone || got.BackfillTable != "" || got.BackfillRows != 0 {
		t.Fatalf("Checkpoint of the row in the table not migrated yet = %+v, ok %v, err %v", got, ok, err)
	}
	for range 2 {
		if err := e.Target.Prepare(ctx, "s", []*router.TableSchema{items}); err != nil {
			t.Fatalf("prepare: %v", err)
		}
	}
	got, ok, err := e.Target.Checkpoint(ctx, "s", "app")
	if err != nil || !ok || got.Position != 7 || got.Backfill != checkpoint.BackfillNone || got.BackfillTable != "" || got.BackfillRows != 0 {
		t.Fatalf("Checkpoint of the row written before the backfill columns = %+v, ok %v, err %v", got, ok, err)
	}
	rec := got
	rec.Position++
	rec.Backfill, rec.BackfillTable, rec.BackfillRows = checkpoint.BackfillDone, "public.items", 12
	if err := Run(ctx, e.Target, false, rec); err != nil {
		t.Fatal(err)
	}
	got, _, err = e.Target.Checkpoint(ctx, "s", "app")
	if err != nil || got.Backfill != checkpoint.BackfillDone || got.BackfillTable != "public.items" || got.BackfillRows != 12 {
		t.Errorf("Checkpoint after a commit on the migrated table = %+v, %v", got, err)
	}
}

// sameJSON compares JSON documents by value.
func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return cmp.Equal(x, y)
}
