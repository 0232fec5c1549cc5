package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/test/testenv"
)

// wantStreamStates computes StreamState for each scope of list the long
// way: every message of every syncd stream read, its subject's scope
// counted.
func wantStreamStates(t *testing.T, conn *Conn, list []string) map[string]*StreamState {
	t.Helper()
	ctx := context.Background()
	js, err := jetstream.New(conn.nc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*StreamState{}
	for _, name := range syncdStreams(t, conn) {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		st := s.CachedInfo().State
		for _, scope := range list {
			switch subj := s.CachedInfo().Config.Subjects; {
			case name == StreamName(scope):
				want[scope] = &StreamState{Stream: name, Messages: st.Msgs, Bytes: st.Bytes, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, LastTime: st.LastTime, Consumers: st.Consumers}
			case slices.Contains(subj, scopeMarker(scope)):
				want[scope] = &StreamState{Stream: name, Bytes: st.Bytes, Consumers: st.Consumers}
			}
		}
		if name != TemplateStreamName("spoke", "app") {
			continue
		}
		for seq := st.FirstSeq; seq <= st.LastSeq && st.Msgs > 0; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseSubject(m.Subject)
			if err != nil {
				t.Fatal(err)
			}
			w := want[p.Scope]
			if w == nil {
				continue
			}
			if w.Messages == 0 {
				w.FirstSeq = seq
			}
			w.Messages++
			w.LastSeq, w.LastTime = seq, m.Time
		}
	}
	return want
}

// TestStreamStates: the state of many scopes read at once is what each
// scope's messages say, on a stream that spokes share (one of them with no
// messages) and on a scope's own stream; a scope without a stream is
// left out. It takes about two requests per spoke with messages, not five.
func TestStreamStates(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	cfg := loadConfig(t, spokesConfig(6)+`
scope "solo" {
  source   = "app"
  snapshot = "never"
  table "public.orders" { where = "region = 'r0'" }
}`)
	r := newRouter(t, conn, cfg, 4)
	f := spokeFeeder(t, r, 5) // spoke5 takes none
	f.txn(13, true)
	f.txn(2, true)
	last := f.txn(7, true)
	drainDurable(t, r, last)

	list := []string{"spoke0", "spoke1", "spoke2", "spoke3", "spoke4", "spoke5", "solo", "nostream"}
	want := wantStreamStates(t, conn, list)
	if len(want) != 7 || want["spoke5"].Messages != 0 || want["spoke0"].Messages == 0 {
		t.Fatalf("the setup gives %d scopes with a stream, spoke0 %d messages and spoke5 %d, want 7, some and none", len(want), want["spoke0"].Messages, want["spoke5"].Messages)
	}
	before := conn.nc.Stats().OutMsgs
	got, err := conn.StreamStates(context.Background(), list)
	requests := conn.nc.Stats().OutMsgs - before
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StreamStates differs from the scopes' messages (-want +got):\n%s", diff)
	}
	// The listing, the shared stream's info and counts, and each spoke's
	// first and last message.
	if limit := uint64(3 + 2*5); requests > limit {
		t.Errorf("StreamStates of %d scopes sent %d requests, want at most %d", len(list), requests, limit)
	}
	streams, err := conn.ScopeStreams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range list {
		if name, ok := streams[scope]; ok != (want[scope] != nil) || ok && name != want[scope].Stream {
			t.Errorf("ScopeStreams gives %s stream %q, want %+v", scope, name, want[scope])
		}
		st, err := conn.StreamState(context.Background(), scope)
		if scope == "nostream" {
			if !errors.Is(err, ErrNoStream) {
				t.Errorf("StreamState(%s) = %+v, %v; want ErrNoStream", scope, st, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[scope], st); diff != "" {
			t.Errorf("StreamState(%s) differs from its messages (-want +got):\n%s", scope, diff)
		}
	}
}

// BenchmarkStreamStates reads the stream state of n spokes with messages
// in their shared stream, as /scopes does: all at once (StreamStates) or
// one scope at a time (StreamState). It reports the requests sent to the
// server per read of all n.
func BenchmarkStreamStates(b *testing.B) {
	for _, n := range []int{10, 1000} {
		srv := testenv.StartNATS(b)
		conn := connect(b, srv.URL)
		r := newRouter(b, conn, loadConfig(b, spokesConfig(n)), 0)
		f := spokeFeeder(b, r, n)
		drainDurable(b, r, f.txn(2*n, true))
		list := make([]string, n)
		for i := range list {
			list[i] = fmt.Sprintf("spoke%d", i)
		}
		ctx := context.Background()
		b.Run(fmt.Sprintf("n=%d/read=each", n), func(b *testing.B) {
			benchStates(b, conn, func() error {
				for _, scope := range list {
					if _, err := conn.StreamState(ctx, scope); err != nil {
						return err
					}
				}
				return nil
			})
		})
		b.Run(fmt.Sprintf("n=%d/read=all", n), func(b *testing.B) {
			benchStates(b, conn, func() error {
				states, err := conn.StreamStates(ctx, list)
				if err == nil && len(states) != n {
					err = fmt.Errorf("states of %d scopes, want %d", len(states), n)
				}
				return err
			})
		})
	}
}

func benchStates(b *testing.B, conn *Conn, read func() error) {
	before := conn.nc.Stats().OutMsgs
	for b.Loop() {
		if err := read(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(conn.nc.Stats().OutMsgs-before)/float64(b.N), "requests/op")
}
