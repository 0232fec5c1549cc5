package router

import (
	"context"
	"fmt"
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
	// prev is the stream sequence of the scope's last message from the
	// source (resume.streamSeq), or, if the stream holds none, a bound on
	// it: retention may have removed them all. Its next message carries
	// it (HeaderPrevSeq).
	prev uint64
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
// is done. stored[i] is list[i]'s record as read (see readScopes).
func prepareStreams(ctx context.Context, js jetstream.JetStream, versions jetstream.KeyValue, list []*scopes.Scope, stored []storedScope, source string, o StreamOptions, atomic bool) ([]preparedGroup, []preparedStream, error) {
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
			rec, err := scopeVersion(gctx, versions, s, stored[i])
			if err != nil {
				return err
			}
			resume, err := lastStored(gctx, groups[groupOf[s]].stream, s.Name, source)
			if err != nil {
				return err
			}
			out[i] = preparedStream{group: groupOf[s], rec: rec, resume: resume, prev: resume.streamSeq}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	if err := boundRemoved(ctx, groups, out); err != nil {
		return nil, nil, err
	}
	return groups, out, nil
}

// boundRemoved sets the prev of each scope that has no message in its
// stream to the stream's first sequence less one, read once per stream
// after every lastStored: retention removes the oldest messages first, so
// whatever messages of the scope it removed were below it. Without the
// bound a scope's next message would claim it had none before, and a
// target that had not applied them would not learn they are gone.
func boundRemoved(ctx context.Context, groups []preparedGroup, out []preparedStream) error {
	bound := map[int]uint64{}
	for i := range out {
		ps := &out[i]
		if ps.resume.ok {
			continue
		}
		b, ok := bound[ps.group]
		if !ok {
			s := groups[ps.group].stream
			info, err := s.Info(ctx)
			if err != nil {
				return fmt.Errorf("read stream %s: %w", s.CachedInfo().Config.Name, err)
			}
			b = max(info.State.FirstSeq, 1) - 1
			bound[ps.group] = b
		}
		ps.prev = b
	}
	return nil
}

// makePlans makes the plans of tables for rows of t that r does not have
// yet (Router.plan), recording their schemas first: the first row of a
// table a thousand spoke scopes cover needs a thousand schema records,
// read several at a time (prepareParallel) and written in atomic batches
// (putRecords), which one write each waiting on an fsync made a second
// long. It returns the first error once every recording it started is
// done; the plans are made only if every record was written.
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
	if len(t.Columns) == 0 { // a table known by name only has nothing to record
		for i, p := range made {
			r.plans[keys[i]] = p
		}
		return nil
	}
	// Read the recorded schemas several at a time, then write those that
	// changed: in atomic batches if there are many and the bucket takes
	// them, else one by one, several at a time.
	recs := make([]struct {
		key     string
		value   []byte
		changed bool
	}, len(made))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(prepareParallel)
	for i, p := range made {
		g.Go(func() error {
			var err error
			recs[i].key, recs[i].value, recs[i].changed, err = mergeSchema(gctx, r.schemas, tableSchema(keys[i].st, t, p, r.src.Kind))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var ks []string
	var vs [][]byte
	for _, rec := range recs {
		if rec.changed {
			ks, vs = append(ks, rec.key), append(vs, rec.value)
		}
	}
	if len(ks) > maxSingles && r.schemaBatches {
		err := putRecords(ctx, r.nc, SchemaBucket, ks, vs)
		if err == nil {
			ks = nil
		} else {
			r.log.Warn("recording schemas in atomic batches failed; recording them one by one", "table", t.ID().String(), "records", len(ks), "error", err)
		}
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(prepareParallel)
	for i := range ks {
		g.Go(func() error {
			if _, err := r.schemas.Put(gctx, ks[i], vs[i]); err != nil {
				return fmt.Errorf("record schema %s: %w", ks[i], err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, p := range made {
		r.plans[keys[i]] = p
	}
	return nil
}
