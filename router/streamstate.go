package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// StreamState is the state of a scope's stream.
type StreamState struct {
	Stream    string    `json:"stream"`
	Messages  uint64    `json:"messages"`
	Bytes     uint64    `json:"bytes"`
	FirstSeq  uint64    `json:"first_seq"`
	LastSeq   uint64    `json:"last_seq"`
	LastTime  time.Time `json:"last_time"`
	Consumers int       `json:"consumers"`
}

// ErrDisconnected means the connection to NATS is down: it is
// reconnecting, and the call may be retried.
var ErrDisconnected = errors.New("not connected to nats")

// stateReads is how many message reads StreamStates has in flight.
const stateReads = 16

// StreamState reads the state of a scope's stream. On a stream that
// several scopes share (a template's), Messages, FirstSeq, LastSeq and
// LastTime are of the scope's row changes only; Bytes and Consumers are
// the stream's. It fails with an error wrapping ErrNoStream if the scope
// has no stream yet.
func (c *Conn) StreamState(ctx context.Context, scope string) (*StreamState, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	s, err := openScopeStream(ctx, js, scope)
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	name := s.CachedInfo().Config.Name
	states, err := streamStates(ctx, js, []string{scope}, map[string]string{scope: name},
		map[string]*jetstream.StreamInfo{name: s.CachedInfo()}, map[string]jetstream.Stream{name: s})
	if err != nil {
		return nil, err
	}
	return states[scope], nil
}

// StreamStates reads the StreamState of each scope of list that has a
// stream, by scope name; a scope without a stream is missing from the
// map. It lists the streams once, reads each shared stream's message
// counts per subject once, and the first and last message of each scope
// with messages in a shared stream (stateReads at a time): about two
// requests per such scope, where StreamState takes five.
func (c *Conn) StreamStates(ctx context.Context, list []string) (map[string]*StreamState, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	byScope, infos, err := listStreams(ctx, js, SubjectPrefix+".>")
	if err != nil {
		return nil, err
	}
	return streamStates(ctx, js, list, byScope, infos, map[string]jetstream.Stream{})
}

// streamStates is StreamStates given the stream of each scope that has one
// (byScope), the info of each of those streams, and those already open.
func streamStates(ctx context.Context, js jetstream.JetStream, list []string, byScope map[string]string,
	infos map[string]*jetstream.StreamInfo, open map[string]jetstream.Stream) (map[string]*StreamState, error) {
	out := map[string]*StreamState{}
	shared := map[string][]string{} // stream: its scopes of list
	for _, scope := range list {
		name, ok := byScope[scope]
		if !ok {
			continue
		}
		st := infos[name].State
		out[scope] = &StreamState{
			Stream: name, Messages: st.Msgs, Bytes: st.Bytes,
			FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, LastTime: st.LastTime, Consumers: st.Consumers,
		}
		if name != StreamName(scope) {
			out[scope].Messages, out[scope].FirstSeq, out[scope].LastSeq, out[scope].LastTime = 0, 0, 0, time.Time{}
			if st.Msgs > 0 {
				shared[name] = append(shared[name], scope)
			}
		}
	}
	type end struct {
		s     jetstream.Stream
		scope string
	}
	var ends []end
	for name, scopes := range shared {
		s := open[name]
		if s == nil {
			var err error
			if s, err = js.Stream(ctx, name); err != nil {
				return nil, fmt.Errorf("read stream %s: %w", name, err)
			}
		}
		counts := SubjectPrefix + ".*.*.*.*.*" // every scope's row changes
		if len(scopes) == 1 {
			counts = RowSubjects(scopes[0])
		}
		full, err := s.Info(ctx, jetstream.WithSubjectFilter(counts))
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", name, err)
		}
		for subj, n := range full.State.Subjects {
			scope, _, _ := strings.Cut(strings.TrimPrefix(subj, SubjectPrefix+"."), ".")
			if st := out[scope]; st != nil && st.Stream == name {
				st.Messages += n
			}
		}
		for _, scope := range scopes {
			if out[scope].Messages > 0 {
				ends = append(ends, end{s, scope})
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(stateReads)
	for _, e := range ends {
		g.Go(func() error { return readEnds(gctx, e.s, e.scope, out[e.scope]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// readEnds sets st's FirstSeq, LastSeq and LastTime from scope's first
// and last row change in shared stream s.
func readEnds(ctx context.Context, s jetstream.Stream, scope string, st *StreamState) error {
	first, err := s.GetMsg(ctx, s.CachedInfo().State.FirstSeq, jetstream.WithGetMsgSubject(RowSubjects(scope)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // removed since the count
	}
	if err != nil {
		return fmt.Errorf("read stream %s: %w", st.Stream, err)
	}
	last, err := s.GetLastMsgForSubject(ctx, RowSubjects(scope))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read stream %s: %w", st.Stream, err)
	}
	st.FirstSeq, st.LastSeq, st.LastTime = first.Sequence, last.Sequence, last.Time
	return nil
}
