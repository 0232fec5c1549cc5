// Package router cuts row changes into scopes and publishes them on NATS
// JetStream: one stream per scope, or one for the spokes of a template
// (layout.go), one message per row change (or per
// run of row changes, with a scope's rows_per_message), subjects,
// headers and JSON envelope as in DESIGN.md §4. It is the only package that
// talks to NATS.
package router

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/scopes"
)

// SourceInfo names the source whose changes a Router publishes.
type SourceInfo struct {
	Kind string // "postgres", "mysql", "sqlserver"
	Name string // the source's name in the config
	DB   string // the database it reads
}

// Router publishes one source's changes to the streams of the scopes that
// cover them. It implements capture.Sink; a Router serves one capture
// session. After an error, Close it and build a new one: New reads from the
// streams what is already stored, so nothing is published twice.
type Router struct {
	src      SourceInfo
	scopes   []*scopes.Scope // the scopes whose source is src
	index    *scopes.Index
	pubs     map[string]*publisher
	order    []*publisher   // in the config's order
	writers  []*writer      // one per stream, indexed by the reply subjects of its acks
	txns     uint64         // transactions committed, to list each writer once per Commit (writer.txnMark)
	versions map[string]int // the config's version of each scope
	plans    map[planKey]*plan
	routes   map[*capture.Table]*tableRoutes
	cand     []int // candidates of the event being routed
	tracker  *checkpoint.Tracker
	sub      *nats.Subscription
	unwatch  func() // stops reconnect notices
	wakeup   chan struct{}
	log      hclog.Logger
	metrics  *Metrics
	now      func() time.Time

	// Definitions (switch.go): by scope, the one in effect at the point
	// of the log reached, and the switches to the config's to come.
	inEffect      map[string]definition
	switches      map[string]*scopeSwitch
	switchesAsked bool
	scopeKV       jetstream.KeyValue

	touched  []*publisher // publishers holding a message of the open transaction
	wtouched []*writer    // their writers, each once, during Commit
	// echo maps a scope to the source its targets are the same database
	// as (scopes.Config.EchoSource): changes from there are not published
	// to it.
	echo map[string]string
	// twoWay holds the scopes that sync both ways (scopes.Config.TwoWay):
	// their copies, a seed's or a resync's, keep the target's rows (see
	// snapshotRequest).
	twoWay map[string]bool

	schemas       jetstream.KeyValue
	schemaBatches bool       // the schemas bucket takes atomic batches (putRecords)
	nc            *nats.Conn // for putRecords
	snapshots     jetstream.KeyValue
	pace          func(ctx context.Context, scope string, seq uint64) error
	pending       map[tableKey]*pendingSnapshot // snapshots to take; live changes dropped for truncating ones
	taken         map[tableKey]*pendingSnapshot // snapshots taken, not yet recorded done
	out           map[tableKey]tableKey         // by scope table (base key): the snapshot handed out, not yet done

	resyncs    ResyncSource    // nil: no resyncs
	resyncSeen map[string]bool // resyncs made pending
	resyncLeft map[string]int  // copies of a resync not yet done
	stopResync func()
	added      chan struct{} // see SnapshotsAdded
	copies     copyStates    // copies for one target, for Status
}

var (
	_ capture.Sink          = (*Router)(nil)
	_ capture.Snapshotter   = (*Router)(nil)
	_ capture.SnapshotAdder = (*Router)(nil)
	_ capture.Pacer         = (*Router)(nil)
)

// Options tune a Router. The zero value of each field picks its default.
type Options struct {
	Logger     hclog.Logger
	Metrics    *Metrics
	Streams    StreamOptions
	BatchSize  int           // messages per atomic batch; default and server maximum 1000
	Window     int           // unacknowledged batches per scope; default 4 (1024 without atomic batches)
	AckTimeout time.Duration // default 30s
	// Pace, if set, returns once every target of scope that this process
	// applies to has applied the scope's stream up to sequence seq, or
	// gives up waiting, or ctx is done (its error). Backfills wait on it
	// between chunks (Router.Pace).
	Pace func(ctx context.Context, scope string, seq uint64) error
	// Resyncs, if not nil, are the resyncs operators ask for (syncd
	// resync): the router takes those of its scopes, at start and while
	// it runs (capture.SnapshotAdder).
	Resyncs ResyncSource
}

// New prepares publishing for the scopes of cfg whose source is src.Name:
// it creates or updates their streams, records their versions, and reads
// where each stream's copy of the source ends.
func New(ctx context.Context, conn *Conn, cfg *scopes.Config, src SourceInfo, o Options) (*Router, error) {
	nc := conn.nc
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.BatchSize <= 0 || o.BatchSize > 1000 {
		o.BatchSize = 1000
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 30 * time.Second
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	// The server's version says whether it takes atomic batches. While
	// the connection is down it is unknown, and taking that for "no"
	// would publish one message at a time for as long as this router
	// lives, so wait for the connection instead.
	if nc.ConnectedServerVersion() == "" {
		return nil, fmt.Errorf("prepare publishing: %w", ErrDisconnected)
	}
	atomic := SupportsAtomicBatch(nc)
	if !atomic {
		o.Logger.Warn("nats server has no atomic batch publishing; publishing one message at a time, which is much slower with fsync on every write",
			"server_version", nc.ConnectedServerVersion(), "needs", "2.12.0")
	}
	r := &Router{
		src:      src,
		pubs:     make(map[string]*publisher),
		versions: make(map[string]int),
		plans:    make(map[planKey]*plan),
		routes:   make(map[*capture.Table]*tableRoutes),
		tracker:  checkpoint.NewTracker(0),
		wakeup:   make(chan struct{}, 1),
		pending:  make(map[tableKey]*pendingSnapshot),
		taken:    make(map[tableKey]*pendingSnapshot),
		log:      o.Logger,
		metrics:  o.Metrics,
		pace:     o.Pace,
		now:      time.Now,
	}
	r.inEffect, r.switches = make(map[string]definition), make(map[string]*scopeSwitch)
	r.out, r.added = make(map[tableKey]tableKey), make(chan struct{}, 1)
	r.resyncs, r.resyncSeen, r.resyncLeft = o.Resyncs, make(map[string]bool), make(map[string]int)
	if r.schemas, err = openBucket(ctx, js, SchemaBucket, o.Streams.Replicas); err != nil {
		return nil, err
	}
	r.nc = nc
	if atomic {
		if r.schemaBatches, err = allowAtomicBucket(ctx, js, SchemaBucket); err != nil {
			r.log.Warn("recording schemas one by one", "error", err)
		}
	}
	versions, err := openBucket(ctx, js, ScopeBucket, o.Streams.Replicas) // once: a hub may have a thousand scopes
	if err != nil {
		return nil, err
	}
	r.scopeKV = versions
	var own []*scopes.Scope
	for _, s := range cfg.Scopes {
		if s.Source == src.Name {
			own = append(own, s)
		}
	}
	stored, err := readScopes(ctx, versions, own)
	if err != nil {
		return nil, err
	}
	if err := r.loadSnapshots(ctx, js, cfg, own, stored, o.Streams.Replicas); err != nil {
		return nil, err
	}
	inbox := nc.NewRespInbox()
	groups, prepared, err := prepareStreams(ctx, js, versions, own, stored, src.Name, o.Streams, atomic)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		r.writers = append(r.writers, r.newWriter(nc, g, inbox, o))
	}
	for i, s := range own {
		p := r.newPublisher(s, prepared[i], r.writers[prepared[i].group], o)
		r.pubs[s.Name] = p
		r.order = append(r.order, p)
		if e := cfg.EchoSource(s); e != "" {
			if r.echo == nil {
				r.echo = map[string]string{}
			}
			r.echo[s.Name] = e
		}
	}
	r.reindex()
	r.sub, err = nc.Subscribe(inbox+".*.*", r.onAck)
	if err != nil {
		return nil, fmt.Errorf("subscribe to acknowledgements: %w", err)
	}
	r.unwatch = conn.onReconnect(r.reconnected)
	if r.resyncs != nil {
		r.stopResync = r.resyncs.OnResync(r.signalAdded)
	}
	return r, nil
}

// errReconnected fails publishers that had batches in flight when the
// connection to NATS broke: their acknowledgements may have been lost
// with it, and waiting for the ack timeout would stall capture.
var errReconnected = errors.New("reconnected to nats with batches unacknowledged; resuming from what the streams hold")

// reconnected runs after the connection to NATS came back.
func (r *Router) reconnected() {
	for _, w := range r.writers {
		if n, _ := w.unacked(time.Now()); n > 0 {
			w.fail(errReconnected)
		}
	}
}

// newWriter makes the writer of a prepared stream.
func (r *Router) newWriter(nc *nats.Conn, g preparedGroup, inbox string, o Options) *writer {
	window := o.Window
	if window <= 0 {
		window = 4
		if !g.atomic {
			window = 1024
		}
	}
	// Metrics are by scope; a shared stream's by its name.
	label := g.name
	if len(g.scopes) == 1 && g.name == StreamName(g.scopes[0].Name) {
		label = g.scopes[0].Name
	}
	info := g.stream.CachedInfo()
	w := &writer{
		stream:        info.Config.Name,
		nc:            nc,
		atomic:        g.atomic,
		maxBatch:      o.BatchSize,
		singles:       maxSingles,
		ackTimeout:    o.AckTimeout,
		tracker:       r.tracker,
		window:        make(chan struct{}, window),
		replyPrefix:   inbox + "." + strconv.Itoa(len(r.writers)) + ".",
		commitSubject: scopeMarker(g.scopes[0].Name),
		wake:          r.wake,
		latency:       r.metrics.PublishLatency.WithLabelValues(label),
		inflightMsgs:  r.metrics.InflightMessages.WithLabelValues(label),
		expected:      info.State.LastSeq,
		failed:        make(chan struct{}),
	}
	r.log.Info("publishing to stream", "stream", w.stream, "scopes", len(g.scopes),
		"atomic_batches", w.atomic, "stored_messages", info.State.Msgs)
	return w
}

// newPublisher makes the publisher of scope s, on writer w.
func (r *Router) newPublisher(s *scopes.Scope, ps preparedStream, w *writer, o Options) *publisher {
	version, resume := ps.rec.Version, ps.resume
	r.versions[s.Name] = version
	r.prepareSwitch(s, ps.rec)
	r.log.Info("publishing scope", "scope", s.Name, "stream", w.stream, "version", version, "resume_after", resumeText(resume))
	p := &publisher{
		scope:   s.Name,
		source:  r.src.Name,
		w:       w,
		pack:    max(s.RowsPerMessage, 1),
		skipped: r.metrics.SkippedReplays.WithLabelValues(s.Name),
		resume:  resume,
		lastSeq: ps.prev,
	}
	p.sent.Store(resume.streamSeq)
	return p
}

func resumeText(r resumePoint) string {
	if !r.ok {
		return "nothing"
	}
	return r.pos.String() + ":" + strconv.Itoa(r.seq)
}

// Begin implements capture.Sink.
func (r *Router) Begin(ctx context.Context, txn *capture.Txn) error {
	r.touched = r.touched[:0]
	return r.switchAt(ctx, txn)
}

// Change implements capture.Sink: it publishes ev to each scope that
// covers its table and whose filter lets it through, unless syncd applied
// ev from the database the scope's targets are (Config.EchoSource). A snapshot event goes
// to its one scope only; a live change to a table whose snapshot is still
// to be taken after a truncate is dropped for that scope, as the snapshot
// will hold it. Only the scopes whose filters the index does not rule out
// for ev are looked at (tableRoutes.candidates), except while snapshots
// are pending: a scope-change diff sends changes by the old definition
// too, which the index, built on the new filters, cannot rule out.
func (r *Router) Change(ctx context.Context, ev *capture.Event) error {
	now := r.now()
	rt := r.routes[ev.Table]
	if rt == nil {
		var err error
		if rt, err = r.newRoutes(ctx, ev); err != nil {
			return err
		}
	}
	if ev.Scope != "" || len(r.pending) > 0 {
		// A snapshot row goes to its scope, matching or not; a pending
		// diff routes by the old definition as well as the new.
		r.cand = rt.filters.All(r.cand[:0])
	} else {
		r.cand = rt.candidates(r.cand[:0], ev)
	}
	origin := capture.OriginSource(ev.Txn.Origin)
	for _, i := range r.cand {
		st := rt.tables[i]
		k := tableKey{scope: st.Scope.Name, table: st.ID}
		switch {
		case origin != "" && r.echo[k.scope] == origin:
			continue // back to the database it came from
		case ev.Scope != "" && ev.Scope != k.scope:
			continue
		case ev.Scope != "":
			k = r.snapshotOf(k)
			r.snapshotStarted(k)
		case len(r.pending) > 0 && r.pending[k] != nil && r.pending[k].req.Truncate && r.pending[k].req.Resume == nil:
			continue
		}
		p, err := r.plan(ctx, st, ev.Table)
		if err != nil {
			return err
		}
		m, ok := p.route(ev, ev.Scope == "" && r.stale(k))
		if ev.Txn.Snapshot {
			sn := r.taken[k]
			if ok = snapshotMessage(&m, ok, sn); ok && k.target != "" && ev.Op != capture.OpCopyEnd {
				r.copies.row(k)
			}
		} else if ok && m.after != nil && ev.Op == capture.OpUpdate && r.backfilling(k) && capture.HasAbsent(ev.After) {
			ok = false // the source reads the row again
		}
		if !ok {
			continue
		}
		p.mapRows(&m)
		if sn := r.taken[k]; ev.Txn.Snapshot && sn != nil && sn.reland != nil {
			p.reland(&m, sn.reland)
		}
		if !p.pub.holds(ev.Txn) {
			r.touched = append(r.touched, p.pub)
		}
		if err := p.pub.enqueue(ctx, &m, now); err != nil {
			return err
		}
		if !p.pub.holds(ev.Txn) { // skipped as already stored
			r.touched = r.touched[:len(r.touched)-1]
		}
	}
	return nil
}

// newRoutes indexes the scope tables of ev's table version on its first
// event, and makes the plans of those the event may reach before the index
// narrows it, so that a scope whose columns or filter the table lacks
// fails on the table's first row, not on the first row it matches.
func (r *Router) newRoutes(ctx context.Context, ev *capture.Event) (*tableRoutes, error) {
	rt := newTableRoutes(r.index, r.src.Name, ev.Table)
	var tables []*scopes.Table
	for _, st := range rt.tables {
		k := tableKey{scope: st.Scope.Name, table: st.ID}
		if ev.Scope != "" && ev.Scope != k.scope || ev.Scope == "" && r.pending[k] != nil {
			continue
		}
		tables = append(tables, st)
	}
	if err := r.makePlans(ctx, tables, ev.Table); err != nil {
		return nil, err
	}
	r.routes[ev.Table] = rt
	return rt, nil
}

// plan returns how st publishes rows of t, making it on first use and
// recording the table's published schema for apply workers before any of
// its rows goes out.
func (r *Router) plan(ctx context.Context, st *scopes.Table, t *capture.Table) (*plan, error) {
	k := planKey{st: st, table: t}
	if p, ok := r.plans[k]; ok {
		return p, nil
	}
	p, err := newPlan(r.pubs[st.Scope.Name], st, t, r.src, r.versionOf(st.Scope), r.metrics)
	if err != nil {
		return nil, err
	}
	if len(t.Columns) > 0 { // a table known by name only has nothing to record
		if err := putSchema(ctx, r.schemas, tableSchema(st, t, p, r.src.Kind)); err != nil {
			return nil, err
		}
	}
	r.plans[k] = p
	return p, nil
}

// Commit implements capture.Sink.
func (r *Router) Commit(ctx context.Context, txn *capture.Txn) error {
	id := r.tracker.Add(txn.Ack, len(r.touched))
	r.txns++
	r.wtouched = r.wtouched[:0]
	now := r.now()
	for _, p := range r.touched {
		if err := p.endTxn(ctx, id, now); err != nil {
			return err
		}
		if p.w.txnMark != r.txns {
			p.w.txnMark = r.txns
			r.wtouched = append(r.wtouched, p.w)
		}
	}
	r.touched = r.touched[:0]
	for _, w := range r.wtouched {
		if err := w.endTxn(); err != nil {
			return err
		}
	}
	return nil
}

// Flush implements capture.Sink. It also fails if a batch has waited
// longer than the ack timeout, so a stalled server surfaces while the
// source is idle.
func (r *Router) Flush(ctx context.Context) error {
	now := r.now()
	for _, w := range r.writers {
		if err := w.flush(); err != nil {
			return err
		}
		if n, age := w.unacked(now); n > 0 && age > w.ackTimeout {
			return w.fail(fmt.Errorf("publish to stream %s: no acknowledgement within %v", w.stream, w.ackTimeout))
		}
	}
	return nil
}

// Drain implements capture.Sink.
func (r *Router) Drain(ctx context.Context) error {
	if err := r.Flush(ctx); err != nil {
		return err
	}
	for {
		pending := 0
		for _, w := range r.writers {
			if err := w.error(); err != nil {
				return err
			}
			n, _ := w.unacked(r.now())
			pending += n
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-r.wakeup:
		case <-ctx.Done():
			return fmt.Errorf("drain %d unacknowledged batches: %w", pending, ctx.Err())
		}
	}
}

// Durable implements capture.Sink.
func (r *Router) Durable() (capture.Position, bool) { return r.tracker.Durable() }

// Close stops receiving acknowledgements. Messages in flight may still be
// stored; a new Router finds them in the streams.
func (r *Router) Close() error {
	if r.stopResync != nil {
		r.stopResync()
	}
	if r.unwatch != nil {
		r.unwatch()
	}
	if r.sub == nil {
		return nil
	}
	return r.sub.Unsubscribe()
}

// onAck routes a server answer to its writer: the reply subject is
// <inbox>.<writer index>.<batch number>.
func (r *Router) onAck(m *nats.Msg) {
	tokens := strings.Split(m.Subject, ".")
	if len(tokens) < 2 {
		return
	}
	i, err1 := strconv.Atoi(tokens[len(tokens)-2])
	no, err2 := strconv.ParseUint(tokens[len(tokens)-1], 10, 64)
	if err1 != nil || err2 != nil || i < 0 || i >= len(r.writers) {
		r.log.Warn("ignoring acknowledgement on unexpected subject", "subject", m.Subject)
		return
	}
	r.writers[i].ack(no, m.Data)
}

func (r *Router) wake() {
	select {
	case r.wakeup <- struct{}{}:
	default:
	}
}

// ScopeStatus is what a Router knows about one scope's publishing.
type ScopeStatus struct {
	Scope   string `json:"scope"`
	Stream  string `json:"stream"`
	Version int    `json:"version"`
	Atomic  bool   `json:"atomic_batches"`
	Unacked int    `json:"unacked_batches"`
	Error   string `json:"error,omitempty"`
	// Copies are the scope's copies for one target not yet done.
	Copies []CopyStatus `json:"copies,omitempty"`
}

// Status reports each scope's publishing state. Safe to call from any
// goroutine.
func (r *Router) Status() []ScopeStatus {
	out := make([]ScopeStatus, 0, len(r.order))
	for _, p := range r.order {
		n, _ := p.w.unacked(time.Now())
		s := ScopeStatus{Scope: p.scope, Stream: p.w.stream, Version: r.versions[p.scope], Atomic: p.w.atomic, Unacked: n, Copies: r.copies.of(p.scope)}
		if err := p.error(); err != nil {
			s.Error = err.Error()
		}
		out = append(out, s)
	}
	return out
}
