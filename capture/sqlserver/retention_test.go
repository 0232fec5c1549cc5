package sqlserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

func TestRetentionOf(t *testing.T) {
	for units, want := range map[string]time.Duration{"MINUTES": 90 * time.Minute, "HOURS": 90 * time.Hour, "DAYS": 90 * 24 * time.Hour, "": 0} {
		if got := retentionOf(90, units); got != want {
			t.Errorf("retentionOf(90, %q) = %s, want %s", units, got, want)
		}
	}
}

func TestCurrentUntil(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	var seen []seenVersion
	for i, v := range []int64{5, 5, 8, 12} {
		seen = seeVersion(seen, v, at(i))
	}
	fallback := at(-60)
	tests := []struct {
		saved int64
		want  time.Time
	}{
		{12, time.Time{}}, // still current
		{9, at(2)},        // the poll that found 8
		{5, at(1)},        // the last poll that found 5
		{4, fallback},     // no poll found it current
	}
	for _, tt := range tests {
		if got, _ := currentUntil(seen, tt.saved, fallback); !got.Equal(tt.want) {
			t.Errorf("currentUntil(%d) = %s, want %s", tt.saved, got, tt.want)
		}
	}
	if _, kept := currentUntil(seen, 9, fallback); len(kept) != 2 || kept[0].v != 8 {
		t.Errorf("currentUntil(9) keeps %v, want the polls from 8 on", kept)
	}
	for i := range 3 * maxSeen {
		seen = seeVersion(seen, int64(100+i), at(10+i))
	}
	if len(seen) > maxSeen || seen[0].v != 5 || seen[len(seen)-1].v != int64(100+3*maxSeen-1) {
		t.Errorf("seeVersion kept %d entries from %d to %d", len(seen), seen[0].v, seen[len(seen)-1].v)
	}
}

// TestModelRetentionRisk: a checkpoint that does not move while changes
// come (the targets do not keep up) is reported at risk once past half of
// the retention period, with the time left; the risk clears once the
// checkpoint catches up.
func TestModelRetentionRisk(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	a := modelTableOf("a", "x")
	m := newModel(a)
	rep := newReplica(t, false, a)
	rep.lag = 1 << 30 // nothing durable until a Drain
	src, err := New(Config{Name: "mssql", Store: storeAt(0), Retention: time.Hour}, m, []*Table{a}, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := src.newSession(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	step := func() {
		t.Helper()
		if _, _, err := ss.poll(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ss.save(ctx); err != nil {
			t.Fatal(err)
		}
		ss.health()
	}
	step() // version 0 is current at 10:00
	m.upsert(a, capture.Row{int64(1), int64(1)}, nil, nil)
	now = now.Add(10 * time.Minute)
	step() // version 1 found at 10:10; the checkpoint stays at 0
	now = now.Add(20 * time.Minute)
	step()
	if st := src.Status(); st.RetentionRisk != "" {
		t.Fatalf("at 30 minutes: risk %q, want none yet", st.RetentionRisk)
	}
	now = now.Add(5 * time.Minute)
	step()
	st := src.Status()
	if !strings.Contains(st.RetentionRisk, "past half of the change retention period") || st.RetentionLeft != 25*time.Minute {
		t.Fatalf("at 35 minutes: risk %q, left %s; want a risk with 25m left", st.RetentionRisk, st.RetentionLeft)
	}
	rep.Drain(ctx)
	step()
	if st := src.Status(); st.RetentionRisk != "" {
		t.Fatalf("caught up: risk %q, want none", st.RetentionRisk)
	}
}
