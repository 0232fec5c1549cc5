package router

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestRecorded checks the read-only accessors of syncd plan: missing
// buckets and streams read as empty and stay missing, recorded scopes and
// snapshots are read back, deleted keys are skipped, and no consumer is
// left behind.
func TestRecorded(t *testing.T) {
	srv := testenv.StartNATS(t)
	ctx := context.Background()
	c, err := Connect(scopes.NATS{URL: srv.URL}, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	js, err := jetstream.New(c.nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := scopes.ParseDefinition([]byte(`{"v":1,"scope":"s","source":"app","snapshot":"initial","tables":[` +
		`{"table":"public.a","target":"public.a","columns":null,"where":"x > 1"},` +
		`{"table":"public.b","target":"public.b","columns":["id"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := capture.TableID{Schema: "public", Name: "a"}, capture.TableID{Schema: "public", Name: "b"}
	streams := func() []string {
		var names []string
		for n := range js.StreamNames(ctx).Name() {
			names = append(names, n)
		}
		slices.Sort(names)
		return names
	}

	recs, err := c.RecordedScopes(ctx)
	if err != nil || len(recs) != 0 {
		t.Errorf("RecordedScopes on a new server = %v, %v; want none", recs, err)
	}
	if due, err := c.SnapshotsDue(ctx, s); err != nil || !slices.Equal(due, []capture.TableID{a, b}) {
		t.Errorf("SnapshotsDue on a new server = %v, %v; want both tables", due, err)
	}
	if name, err := c.ScopeStream(ctx, "s"); !errors.Is(err, ErrNoStream) {
		t.Errorf("ScopeStream on a new server = %q, %v; want ErrNoStream", name, err)
	}
	if got := streams(); len(got) != 0 {
		t.Fatalf("the reads created streams %v", got)
	}

	versions, err := openBucket(ctx, js, ScopeBucket, 1)
	if err != nil {
		t.Fatal(err)
	}
	recordVersion(t, versions, s)
	gone := &scopes.Scope{Name: "gone", Source: "app", Snapshot: scopes.SnapshotInitial}
	recordVersion(t, versions, gone)
	kv, err := js.KeyValue(ctx, ScopeBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	snaps, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: SnapshotBucket})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snaps.Put(ctx, tableKey{scope: "s", table: a}.kv(), mustJSON(snapshotRecord{Hash: definitionHash(s.Tables[0])})); err != nil {
		t.Fatal(err)
	}
	if _, err := snaps.Put(ctx, tableKey{scope: "s", table: b}.kv(), mustJSON(snapshotRecord{Hash: "an older definition"})); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ensureStream(ctx, js, &streamGroup{name: StreamName("s"), subjects: streamSubjects("s")}, StreamOptions{}, false); err != nil {
		t.Fatal(err)
	}

	recs, err = c.RecordedScopes(ctx)
	if err != nil || len(recs) != 1 || recs["s"].Version != 1 || string(recs["s"].Definition) != string(s.Definition()) {
		t.Errorf("RecordedScopes = %v, %v; want scope s at version 1 only", recs, err)
	}
	if due, err := c.SnapshotsDue(ctx, s); err != nil || !slices.Equal(due, []capture.TableID{b}) {
		t.Errorf("SnapshotsDue = %v, %v; want public.b, whose snapshot is of an older definition", due, err)
	}
	if name, err := c.ScopeStream(ctx, "s"); err != nil || name != StreamName("s") {
		t.Errorf("ScopeStream(s) = %q, %v; want %s", name, err, StreamName("s"))
	}
	for _, name := range streams() {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if n := st.CachedInfo().State.Consumers; n != 0 {
			t.Errorf("stream %s has %d consumers after the reads", name, n)
		}
	}
}
