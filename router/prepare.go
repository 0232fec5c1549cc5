package router

import (
	"context"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// prepareParallel is how many scopes' streams New prepares at once. Each
// preparation is a few round trips to the server, each waiting on an
// fsync (the stream's metadata, the scope's version record): a hub with a
// thousand spoke scopes took seconds to become ready one scope at a time.
const prepareParallel = 16

// preparedStream is one scope's stream made ready for publishing: what
// newPublisher needs from the server.
type preparedStream struct {
	group  int         // the scope's stream: an index into the groups prepareStreams returns
	rec    ScopeRecord // the scope's definitions, the one in effect and the pending one
	resume resumePoint
}

// preparedGroup is a stream made ready for the scopes that publish to it.
type preparedGroup struct {
	*streamGroup
	stream jetstream.Stream
	atomic bool // the stream takes atomic batches
}

// prepareStreams places the scopes of list on their streams
// (groupStreams), creates or updates those streams, records the scopes'
// versions and reads where each scope's copy of source ends, several at a
// time (prepareParallel). It returns the streams, and the scopes' results
// in list's order, or the first error, once every preparation it started
// is done.
func prepareStreams(ctx context.Context, js jetstream.JetStream, versions jetstream.KeyValue, list []*scopes.Scope, source string, o StreamOptions, atomic bool) ([]preparedGroup, []preparedStream, error) {
	byScope, subjects, err := existingStreams(ctx, js)
	if err != nil {
		return nil, nil, err
	}
	placed, err := groupStreams(list, byScope, subjects)
	if err != nil {
		return nil, nil, err
	}
	var groups []preparedGroup
	groupOf := map[*scopes.Scope]int{}
	for i, g := range placed {
		groups = append(groups, preparedGroup{streamGroup: g})
		for _, s := range g.scopes {
			groupOf[s] = i
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(prepareParallel)
	for i := range groups {
		g.Go(func() error {
			var err error
			groups[i].stream, groups[i].atomic, err = ensureStream(gctx, js, groups[i].streamGroup, o, atomic)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	out := make([]preparedStream, len(list))
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(prepareParallel)
	for i, s := range list {
		g.Go(func() error {
			rec, err := scopeVersion(gctx, versions, s)
			if err != nil {
				return err
			}
			resume, err := lastStored(gctx, groups[groupOf[s]].stream, s.Name, source)
			if err != nil {
				return err
			}
			out[i] = preparedStream{group: groupOf[s], rec: rec, resume: resume}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return groups, out, nil
}

// makePlans makes the plans of tables for rows of t that r does not have
// yet (Router.plan), recording their schemas several at a time
// (prepareParallel): the first row of a table a thousand spoke scopes
// cover needs a thousand schema records, each a read and a write waiting
// on an fsync. It returns the first error once every recording it started
// is done; the plans made before it stay made.
func (r *Router) makePlans(ctx context.Context, tables []*scopes.Table, t *capture.Table) error {
	var made []*plan
	var keys []planKey
	for _, st := range tables {
		k := planKey{st: st, table: t}
		if _, ok := r.plans[k]; ok || slices.Contains(keys, k) {
			continue
		}
		p, err := newPlan(r.pubs[st.Scope.Name], st, t, r.src, r.versionOf(st.Scope), r.metrics)
		if err != nil {
			return err
		}
		made, keys = append(made, p), append(keys, k)
	}
	done := make([]bool, len(made))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(prepareParallel)
	for i, p := range made {
		if len(t.Columns) == 0 { // a table known by name only has nothing to record
			done[i] = true
			continue
		}
		g.Go(func() error {
			if err := putSchema(gctx, r.schemas, tableSchema(keys[i].st, t, p, r.src.Kind)); err != nil {
				return err
			}
			done[i] = true
			return nil
		})
	}
	err := g.Wait()
	for i, p := range made {
		if done[i] {
			r.plans[keys[i]] = p
		}
	}
	return err
}
