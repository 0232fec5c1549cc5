package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// Config is one worker's (scope, target) pair and its budgets.
type Config struct {
	Scope        *scopes.Scope
	Target       string // the target's name
	SyncdVersion string
	Streams      router.StreamOptions // for the DLQ stream
	// DependsOn are the scopes of Scope.DependsOn that go to Target: the
	// worker applies nothing before they have finished their initial
	// snapshots there (waitDependencies). Commits, shared by the daemon's
	// workers, tells of their commits; it is required with DependsOn.
	DependsOn []*scopes.Scope
	Commits   *Commits
	// Gate, if not nil, holds the worker while its scope is paused.
	Gate Gate
	// Self is the source that captures the target's database (its
	// same_as), or "": the worker skips the transactions that came from
	// it (capture.OriginSource), so that no change returns to the
	// database it came from.
	Self string
	// TwoWay makes the worker detect conflicts and settle them by the
	// scope's policies (resolve.go); Self must be set.
	TwoWay bool
	// EmptyRemoved (the target's removed_tables = "empty") makes each
	// session first empty the target tables of the tables that left the
	// scope since the definition the target records (emptyRemoved), and
	// skip what the stream still holds of tables the scope no longer
	// has, so that they stay empty. Shared reports the target tables
	// that other scopes of the config write at Target: those are kept.
	EmptyRemoved bool
	Shared       func(capture.TableID) bool

	// A target transaction takes whole source transactions until it holds
	// MaxRows rows or has been open MaxTime, or no message came for
	// IdleCommit. A source transaction is never split, so one larger than
	// MaxRows makes a larger target transaction.
	//
	// Messages arrive in bursts, one per publish batch, so a short
	// IdleCommit commits at the end of each burst: under light load every
	// source transaction is visible at once, under heavy load the
	// transactions that arrive during one commit are merged into the next.
	// MaxTime bounds how long a steady stream keeps rows invisible.
	MaxRows    int           // default 10,000
	MaxTime    time.Duration // default 50ms
	IdleCommit time.Duration // default 1ms
}

// Worker applies one scope's stream to one target.
type Worker struct {
	cfg     Config
	conn    *router.Conn
	target  Target
	log     hclog.Logger
	metrics *Metrics
	def     []byte // the scope's definition in the config
	// defs are the scope's definitions by version, for scope_info rows
	// (definitionOf).
	defs map[int][]byte

	done []string // dependencies found finished at the target

	mu     sync.Mutex
	status Status
}

// Status is what a Worker reports for health and /scopes.
type Status struct {
	Scope  string `json:"scope"`
	Target string `json:"target"`
	// State is starting, waiting (for WaitingFor, the scopes of
	// depends_on still copying their snapshots to the target), applying,
	// paused (see StatePaused), retrying (the target or NATS is not
	// reachable; Error says why) or failed (stopped for good).
	State      string   `json:"state"`
	Error      string   `json:"error,omitempty"`
	WaitingFor []string `json:"waiting_for,omitempty"`
	// Position, StreamSeq and AppliedAt are the last checkpoint written.
	Position  capture.Position `json:"position"`
	StreamSeq uint64           `json:"stream_seq"`
	AppliedAt time.Time        `json:"applied_at"`
	// CommitTS is the source commit time of the last transaction applied;
	// LagSeconds is how far behind the source that was when applied.
	CommitTS    time.Time `json:"source_commit_ts"`
	LagSeconds  float64   `json:"lag_seconds"`
	RowsApplied int64     `json:"rows_applied"`
	// Parked counts rows set aside on the DLQ (on_apply_error = "dlq")
	// since syncd started; a scope with parked rows is Degraded until
	// someone looks at them and restarts syncd.
	Parked   int64 `json:"rows_parked"`
	Degraded bool  `json:"degraded"`
	// Conflicts counts the conflicts of a two-way scope met since syncd
	// started, each recorded on syncd.<scope>._conflict; a parked one
	// makes the scope Degraded.
	Conflicts int64 `json:"conflicts,omitempty"`
	// RelandSkipped counts the re-landed rows (the partial rows of a
	// changed transform's backfill) the target no longer had, since syncd
	// started: they were skipped, not parked, and the scope went on;
	// `syncd resync` puts such rows back at a target edited by hand.
	RelandSkipped int64 `json:"reland_rows_skipped,omitempty"`
}

// Worker states.
const (
	StateStarting = "starting"
	StateApplying = "applying"
	StateRetrying = "retrying"
	StateFailed   = "failed"
)

// NewWorker returns a worker; it connects nowhere until Run.
func NewWorker(cfg Config, conn *router.Conn, target Target, log hclog.Logger, m *Metrics) *Worker {
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = 10_000
	}
	if cfg.MaxTime <= 0 {
		cfg.MaxTime = 50 * time.Millisecond
	}
	if cfg.IdleCommit <= 0 {
		cfg.IdleCommit = time.Millisecond
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	// The parked-rows series exists from the start, at 0, so that an
	// alert on its increase fires for the first parked row too.
	m.Parked.WithLabelValues(cfg.Scope.Name, cfg.Target)
	return &Worker{cfg: cfg, conn: conn, target: target, log: log, metrics: m, def: cfg.Scope.Definition(),
		defs:   map[int][]byte{},
		status: Status{Scope: cfg.Scope.Name, Target: cfg.Target, State: StateStarting}}
}

// Status returns the worker's state. Safe for concurrent use.
func (w *Worker) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *Worker) update(f func(*Status)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.status)
}

// errFailed marks errors that stop the worker for good.
var errFailed = errors.New("stopped")

// Run applies until ctx is done (returning nil) or the scope must stop:
// a row the target rejects with on_apply_error = "stop", a stream that
// lost messages the target has not applied, or a target that cannot take
// the scope's tables (one missing, or lacking a column or key, without
// create_tables; errors marked retry.Terminal). Then it returns nil too,
// with the cause in Status: one failed scope does not stop the others.
// Other errors (the target or NATS unreachable) are retried with backoff.
// Before its first session it waits for the scopes it depends on
// (waitDependencies).
func (w *Worker) Run(ctx context.Context) error {
	defer w.target.Close()
	err := retry.Run(ctx, func(ctx context.Context) error {
		if err := w.waitDependencies(ctx); err != nil {
			return err
		}
		err := w.session(ctx)
		if errors.Is(err, errFailed) || errors.Is(err, router.ErrCheckpointGone) {
			return retry.Terminal(err)
		}
		return err
	}, func(err error, wait time.Duration) {
		w.update(func(s *Status) { s.State, s.Error = StateRetrying, err.Error() })
		w.log.Warn("apply session ended; retrying", "error", err, "retry_in", wait)
	})
	if err != nil {
		w.update(func(s *Status) { s.State, s.Error = StateFailed, err.Error() })
		w.log.Error("scope stopped at this target; fix the cause and restart syncd", "error", err)
	}
	return nil
}

// session prepares the target, reads the checkpoint, and applies from
// there. A change rejected inside a batch makes it re-read the stream from
// the checkpoint and apply the next source transaction one row at a time,
// to find the row.
func (w *Worker) session(ctx context.Context) error {
	scope, source := w.cfg.Scope.Name, w.cfg.Scope.Source
	if err := w.hold(ctx); err != nil {
		return err
	}
	s := &session{w: w}
	if err := s.loadSchemas(ctx); err != nil {
		return err
	}
	cp, ok, err := w.target.Checkpoint(ctx, scope, source)
	if err != nil {
		return fmt.Errorf("read checkpoint of scope %s: %w", scope, err)
	}
	if ok && w.cfg.EmptyRemoved {
		if cp, _, err = emptyRemoved(ctx, w.target, cp, w.cfg.Scope, s.schemas, w.cfg.Shared, w.cfg.SyncdVersion, w.log); err != nil {
			return err
		}
	}
	if ok {
		s.cp = &cp
		w.update(func(st *Status) {
			st.Position, st.StreamSeq, st.AppliedAt, st.RowsApplied = cp.Position, cp.StreamSeq, cp.AppliedAt, cp.RowsApplied
		})
	} else if s.awaitCopy, err = w.conn.AwaitsCopies(ctx, w.cfg.Scope, w.cfg.Target, w.cfg.Streams.Replicas); err != nil {
		return err
	} else if s.awaitCopy {
		w.log.Info("target added to the scope: skipping the stream up to the first copy for it")
	}
	isolate := false
	for {
		var from *router.Resume
		if s.cp != nil {
			from = &router.Resume{Pos: s.cp.Position, StreamSeq: s.cp.StreamSeq}
		}
		sub, err := w.conn.Subscribe(ctx, scope, source, from)
		if err != nil {
			return err
		}
		w.update(func(st *Status) { st.State, st.Error = StateApplying, "" })
		err = s.consume(ctx, sub, isolate)
		sub.Stop()
		switch {
		case errors.Is(err, errSchemaChanged):
			// The open transaction was rolled back; start again from
			// the checkpoint with the new schemas.
			if err := s.loadSchemas(ctx); err != nil {
				return err
			}
		case errors.Is(err, errIsolate):
			s.w.log.Warn("target rejected a change in a batch; applying row by row to find it",
				"error", err, "through_stream_seq", s.isolateThrough)
			isolate = true
		case errors.Is(err, errIsolated):
			isolate = false
		case errors.Is(err, errPaused):
			if err := w.hold(ctx); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

var (
	// errIsolate: a batch was rejected; find the row by applying one at a time.
	errIsolate = errors.New("find the rejected row")
	// errIsolated: the transaction with the rejected row is done; batch again.
	errIsolated = errors.New("rejected row handled")
	// errSchemaChanged: a message has columns the session does not know.
	errSchemaChanged = errors.New("table schema changed")
)

// session is one run of a worker against its target.
type session struct {
	w       *Worker
	cp      *checkpoint.Record
	schemas map[capture.TableID]*router.TableSchema
	schema  json.RawMessage // the schemas, for the checkpoint record
	columns map[*router.TableSchema]map[string]bool
	rows    map[string]prometheus.Counter // rows applied, by op
	// reloadedAt is the message that last made the session reload the
	// schemas: if they still lack its columns, the target decides.
	reloadedAt uint64
	// isolateThrough is the last message read when a batch was rejected:
	// up to it, source transactions are applied row by row.
	isolateThrough uint64
	// awaitCopy: the target was added to the scope and gets a copy of
	// every table for itself (router.Conn.AwaitsCopies); until the first
	// message of one, the session skips what it reads.
	awaitCopy bool
}

// gone reports whether the session skips the changes of source table id:
// with Config.EmptyRemoved, those of tables the scope no longer has,
// which the stream holds from before they were removed.
func (s *session) gone(id capture.TableID) bool {
	if !s.w.cfg.EmptyRemoved {
		return false
	}
	for _, t := range s.w.cfg.Scope.Tables {
		if t.ID == id {
			return false
		}
	}
	return true
}

// loadSchemas reads the scope's table schemas and prepares the target
// tables.
func (s *session) loadSchemas(ctx context.Context) error {
	schemas, err := s.w.conn.TableSchemas(ctx, s.w.cfg.Scope.Name)
	if err != nil {
		return err
	}
	list := make([]*router.TableSchema, 0, len(schemas))
	for _, ts := range schemas {
		list = append(list, ts)
	}
	if err := s.w.target.Prepare(ctx, s.w.cfg.Scope.Name, list); err != nil {
		return fmt.Errorf("prepare target %s for scope %s: %w", s.w.cfg.Target, s.w.cfg.Scope.Name, err)
	}
	s.schemas = schemas
	s.schema, _ = json.Marshal(list)
	s.columns = make(map[*router.TableSchema]map[string]bool, len(list))
	return nil
}

// table returns the schema of a source table, reloading the schemas when
// the scope has a table the session has not seen.
func (s *session) table(ctx context.Context, id capture.TableID) (*router.TableSchema, error) {
	if ts := s.schemas[id]; ts != nil {
		return ts, nil
	}
	if err := s.loadSchemas(ctx); err != nil {
		return nil, err
	}
	if ts := s.schemas[id]; ts != nil {
		return ts, nil
	}
	return nil, fmt.Errorf("scope %s has no schema recorded for table %s", s.w.cfg.Scope.Name, id)
}
