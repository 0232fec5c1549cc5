package sqlserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// Config is what one SQL Server source needs.
type Config struct {
	Name string // the source's name in the syncd config
	// Store keeps the checkpoint version between runs.
	Store capture.Store
	// Resnapshot lets the source copy every table again when a
	// checkpoint falls below a table's minimum valid version (snapshot =
	// "when_needed" on every scope) and the sink cannot copy that table
	// alone; without it that is terminal. A sink that can (a
	// capture.TableCopier) decides by the scopes covering the table.
	Resnapshot bool
	// PollInterval is the wait between polls that found changes; default
	// 1s. Idle polls double it, up to MaxPollInterval (default 30s).
	PollInterval    time.Duration
	MaxPollInterval time.Duration
	// SkipContext, if set, is a change tracking context whose changes
	// are not captured, for any scope. syncd's own writes are not
	// skipped but marked with their origin (origin.go).
	SkipContext []byte
	// MaxVersions bounds how far past the checkpoint one poll reads, and
	// so how many changes it holds in memory; default 10000. A poll that
	// stops short is followed by the next at once.
	MaxVersions  int64
	ChunkRows    int           // rows per snapshot query; default 10000
	DrainTimeout time.Duration // how long a stop waits for in-flight publishes; default 30s
	// Retention is the database's CHANGE_RETENTION (Conn.Retention); 0
	// turns the retention estimate off.
	Retention time.Duration
}

// Options are a Source's optional dependencies.
type Options struct {
	Logger hclog.Logger
	Now    func() time.Time // the clock; default time.Now
}

// Source polls one database's change tracking for a set of tables.
type Source struct {
	cfg     Config
	tracker Tracker
	now     func() time.Time
	tables  []*Table // in table id order: the order of changes of one version
	byID    map[capture.TableID]*Table
	log     hclog.Logger

	mu     sync.Mutex
	status Status
}

var _ capture.Source = (*Source)(nil)

// Status is what a Source reports for health and /scopes.
type Status struct {
	// Version is the change tracking version read through; Saved the
	// checkpoint last saved, the resume point.
	Version int64  `json:"version"`
	Saved   *int64 `json:"saved,omitempty"`
	// PollInterval is the current wait between polls, longer when idle.
	PollInterval time.Duration `json:"poll_interval"`
	// RetentionRisk, when set, says the checkpoint is past half of the
	// database's change retention period; RetentionLeft estimates the time
	// before the cleanup may remove changes after it (retention.go).
	RetentionRisk string        `json:"retention_risk,omitempty"`
	RetentionLeft time.Duration `json:"retention_left,omitempty"`
	Error         string        `json:"error,omitempty"`
}

// New returns a Source reading tables through tr. Each table needs a
// primary key. It opens no connection.
func New(cfg Config, tr Tracker, tables []*Table, o Options) (*Source, error) {
	if cfg.Store == nil {
		return nil, retry.Terminal(fmt.Errorf("source %s has no checkpoint store", cfg.Name))
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	cfg.MaxPollInterval = max(cfg.MaxPollInterval, cfg.PollInterval)
	if cfg.MaxPollInterval == cfg.PollInterval && cfg.MaxPollInterval < 30*time.Second {
		cfg.MaxPollInterval = 30 * time.Second
	}
	if cfg.MaxVersions <= 0 {
		cfg.MaxVersions = 10000
	}
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = 10000
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Source{cfg: cfg, tracker: tr, now: o.Now, byID: map[capture.TableID]*Table{}, log: o.Logger.With("source", cfg.Name)}
	for _, t := range tables {
		if len(t.Key) == 0 {
			return nil, retry.Terminal(fmt.Errorf("table %s of source %s has no primary key", t.ID(), cfg.Name))
		}
		s.tables = append(s.tables, t)
		s.byID[t.ID()] = t
	}
	slices.SortFunc(s.tables, func(a, b *Table) int { return compareIDs(a.ID(), b.ID()) })
	return s, nil
}

func compareIDs(a, b capture.TableID) int {
	return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
}

// Status returns the source's current state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *Source) setStatus(f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.status)
}

// Run implements capture.Source: it polls from the saved checkpoint (with
// none, from the current version, after the pending snapshots), waiting
// PollInterval between polls, longer while idle. A sink that adds
// snapshots while the source runs (capture.SnapshotAdder: `syncd resync`,
// a copy held back until an earlier one was done) wakes the wait: the
// next poll begins at once and takes them. On cancel it drains the sink,
// saves the durable checkpoint and returns ctx's error.
func (s *Source) Run(ctx context.Context, sink capture.Sink) (err error) {
	defer func() {
		if err != nil && ctx.Err() == nil {
			s.setStatus(func(st *Status) { st.Error = err.Error() })
		}
	}()
	ss, err := s.newSession(ctx, sink)
	if err != nil {
		return err
	}
	var added <-chan struct{} // nil, which never receives, if sink adds none
	if a, ok := sink.(capture.SnapshotAdder); ok {
		added = a.SnapshotsAdded()
	}
	wait := s.cfg.PollInterval
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ss.stop(ctx)
		case <-timer.C:
		case <-added:
			// The poll's snapshots (Snapshotter.Snapshots) take them.
		}
		n, behind, err := ss.poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ss.stop(ctx)
			}
			return err
		}
		if n > 0 || behind {
			wait = s.cfg.PollInterval
		} else {
			wait = min(2*wait, s.cfg.MaxPollInterval)
		}
		if err := ss.save(ctx); err != nil {
			return err
		}
		ss.health()
		s.setStatus(func(st *Status) { st.PollInterval = wait })
		if behind {
			timer.Reset(0)
		} else {
			timer.Reset(wait)
		}
	}
}

// session is one Run's reading state.
type session struct {
	src  *Source
	sink capture.Sink
	// last is the version read through; have is false until the first
	// poll when nothing was saved (or the tables are to be copied again).
	last int64
	have bool
	// exact says the sink has been passed the tables exactly as they were
	// at last (see state.Exact): the column masks of the next poll hold.
	exact      bool
	saved      int64
	savedExact bool
	// copied is the position of the last snapshot transaction passed,
	// or of the last durable one before the session (state.Copies); the
	// next goes after it.
	copied capture.Position
	// savedCopies is the state.Copies saved with saved.
	savedCopies int64
	// haveSaved says saved holds what the store has.
	haveSaved bool
	// savedUntil is the last time saved is known to have been the current
	// version; seen the polls' current versions since (retention.go).
	savedUntil time.Time
	seen       []seenVersion
}

func (s *Source) newSession(ctx context.Context, sink capture.Sink) (*session, error) {
	b, err := s.cfg.Store.Load(ctx, s.cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint of source %s: %w", s.cfg.Name, err)
	}
	c, ok, err := decodeState(b)
	if err != nil {
		return nil, retry.Terminal(fmt.Errorf("source %s: %w", s.cfg.Name, err))
	}
	return &session{src: s, sink: sink, last: c.Version, have: ok, exact: c.Exact,
		saved: c.Version, savedExact: c.Exact, savedUntil: c.Until, haveSaved: ok,
		copied: versionPos(c.Version) + capture.Position(c.Copies), savedCopies: c.Copies}, nil
}

// poll reads, in one snapshot transaction, the changes after the
// checkpoint up to the current version (at most MaxVersions past the
// checkpoint), passes them to the sink one version at a time, then, if
// it reached the current version, takes the snapshots the sink wants at
// that version. It returns how many transactions it passed and whether
// it stopped short of the current version.
func (ss *session) poll(ctx context.Context) (n int, behind bool, err error) {
	start := ss.src.now()
	p, err := ss.src.tracker.Begin(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("begin poll of source %s: %w", ss.src.cfg.Name, err)
	}
	defer p.Close()
	cur, curOK, err := p.CurrentVersion(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("read current version: %w", err)
	}
	var lost map[capture.TableID]bool
	if ss.have {
		if lost, err = ss.lost(ctx, p, cur, curOK); err != nil {
			return 0, false, err
		}
	} else if !curOK {
		return 0, false, retry.Terminal(fmt.Errorf("source %s: %w", ss.src.cfg.Name, ErrTrackingOff))
	}
	ss.seen = seeVersion(ss.seen, cur, start)
	upTo := cur
	if ss.have {
		// A net change whose version is past upTo is read by a later
		// poll, with the values it has then: windows lose nothing.
		if w := ss.src.cfg.MaxVersions; cur-ss.last > w {
			upTo = ss.last + w
		}
		if n, err = ss.stream(ctx, p, upTo, lost); err != nil {
			return n, false, err
		}
	}
	ss.last, ss.have, ss.exact = upTo, true, upTo == cur
	ss.src.setStatus(func(st *Status) { st.Version = upTo })
	if upTo == cur {
		k, err := ss.snapshots(ctx, p, cur)
		n += k
		if err != nil {
			return n, false, err
		}
	}
	return n, upTo < cur, ss.sink.Flush(ctx)
}

// lost validates the checkpoint against the poll's versions and returns
// the tables whose changes since it are lost (checkVersions), once the
// sink has taken them to copy again: only those tables when it can
// (capture.TableCopier), and the poll streams the others' changes and
// not theirs, which it cannot read; every table when it cannot, with
// snapshot = "when_needed" on every scope (Config.Resnapshot), and the
// poll starts afresh from the snapshots. Otherwise the error is terminal
// and names each table and its versions.
func (ss *session) lost(ctx context.Context, p Poll, cur int64, curOK bool) (map[capture.TableID]bool, error) {
	lost, err := ss.check(ctx, p, cur, curOK)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", ss.src.cfg.Name, err)
	}
	if len(lost) == 0 {
		return nil, nil
	}
	ids := make([]capture.TableID, len(lost))
	errs := make([]error, len(lost))
	for i, l := range lost {
		ids[i], errs[i] = l.Table, l
	}
	why := errors.Join(errs...)
	all, err := capture.CopyTablesAgain(ctx, ss.sink, ids, why, ss.src.cfg.Resnapshot)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", ss.src.cfg.Name, err)
	}
	if all {
		ss.src.log.Warn("changes since the checkpoint are no longer tracked: copying the tables again", "error", why)
		ss.have = false
		return nil, nil
	}
	ss.src.log.Warn("changes of tables since the checkpoint are no longer tracked: copying those tables again, the others stream on", "tables", ids, "error", why)
	skip := make(map[capture.TableID]bool, len(ids))
	for _, id := range ids {
		skip[id] = true
	}
	return skip, nil
}

// check validates the checkpoint against the poll's versions
// (checkVersions, whose errors it marks terminal).
func (ss *session) check(ctx context.Context, p Poll, cur int64, curOK bool) ([]*LostError, error) {
	if !curOK {
		_, err := checkVersions(cur, curOK, ss.last, nil)
		return nil, retry.Terminal(err)
	}
	mins := make([]tableVersion, len(ss.src.tables))
	for i, t := range ss.src.tables {
		v, ok, err := p.MinValidVersion(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("read minimum valid version of %s: %w", t.ID(), err)
		}
		mins[i] = tableVersion{table: t.ID(), v: v, ok: ok}
	}
	lost, err := checkVersions(cur, curOK, ss.last, mins)
	if err != nil {
		return nil, retry.Terminal(err)
	}
	return lost, nil
}

// versioned is a decoded change, its version and the syncd origin its
// context names, if any (contextOrigin).
type versioned struct {
	v      int64
	ev     capture.Event
	origin string
}

// stream passes the changes after ss.last up to cur, one transaction per
// version, of every table but those skip names (their changes since
// ss.last are lost).
func (ss *session) stream(ctx context.Context, p Poll, cur int64, skip map[capture.TableID]bool) (int, error) {
	var changes []versioned
	for _, t := range ss.src.tables {
		if skip[t.ID()] {
			continue
		}
		err := p.Changes(ctx, t, ss.last, cur, func(r ChangeRow) error {
			if !ss.exact {
				// The masks and the I of an insert are relative to a
				// version the targets may not hold exactly: a row
				// deleted before it and inserted again after it (a poll
				// cut short by MaxVersions read neither) is an I, though
				// the targets still hold the old row. An update with no
				// old image lets a scope whose filter the new row fails
				// delete it there.
				r.Changed = nil
				if r.Op == 'I' {
					r.Op = 'U'
				}
			}
			ev, ok, err := decode(t, r, ss.src.cfg.SkipContext)
			if ok {
				changes = append(changes, versioned{v: r.Version, ev: ev, origin: contextOrigin(r.Context)})
			}
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("read changes of %s: %w", t.ID(), err)
		}
	}
	// Tables are read one after the other; a stable sort keeps each
	// version's changes in table order, then key order.
	slices.SortStableFunc(changes, func(a, b versioned) int { return cmp.Compare(a.v, b.v) })
	n := 0
	for i := 0; i < len(changes); {
		v := changes[i].v
		txn := &capture.Txn{ID: fmt.Sprint(v), Pos: versionPos(v), Ack: versionPos(v), Origin: versionOrigin(changes[i:], v)}
		if err := ss.sink.Begin(ctx, txn); err != nil {
			return n, err
		}
		for ; i < len(changes) && changes[i].v == v; i++ {
			changes[i].ev.Txn = txn
			if err := ss.sink.Change(ctx, &changes[i].ev); err != nil {
				return n, err
			}
		}
		if err := ss.sink.Commit(ctx, txn); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
