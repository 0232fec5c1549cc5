package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/scopes/filter"
)

// planTimeout bounds a whole syncd plan run.
const planTimeout = 5 * time.Minute

// cmdPlan prints what running a config would change against what syncd
// recorded: exit 0 without changes, 2 with changes, 1 on errors. It
// changes nothing: NATS is only read, and database sessions are
// read-only.
func cmdPlan(args []string) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	config := fs.String("config", "", "config `path`: an .hcl file or a directory of them")
	asJSON := fs.Bool("json", false, "print one JSON document instead of text")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *config == "" {
		fmt.Fprintln(os.Stderr, "syncd plan: --config is required")
		return 1
	}
	cfg, ok := loadConfig(*config, scopes.LoadOptions{})
	if !ok {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, planTimeout)
	defer cancel()
	doc, err := makePlan(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncd plan:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetEscapeHTML(false) // filters hold < and >
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			fmt.Fprintln(os.Stderr, "syncd plan:", err)
			return 1
		}
	} else {
		renderPlan(os.Stdout, doc)
	}
	if doc.Changes {
		return 2
	}
	return 0
}

// planner gathers a plan; it holds the connections it opened.
type planner struct {
	cfg     *scopes.Config
	nc      *router.Conn
	sources map[string]*sourceReader
	targets map[string]planTarget
	streams map[string]string // the stream of each scope that has one
}

// makePlan connects read-only to NATS, the sources and the targets, and
// compares cfg with what they hold.
func makePlan(ctx context.Context, cfg *scopes.Config) (*planDoc, error) {
	ncfg, hint := cfg.NATS, ""
	if ncfg.URL == "" {
		// The embedded server runs inside the daemon: plan reads it there.
		ncfg.URL, hint = "nats://"+ncfg.Listen, " (the embedded server of syncd run, which must be running)"
	}
	nc, err := router.Connect(ncfg, hclog.NewNullLogger(), nil)
	if err != nil {
		return nil, fmt.Errorf("nats at %s%s: %w", ncfg.URL, hint, err)
	}
	defer nc.Close()
	p := &planner{cfg: cfg, nc: nc, sources: map[string]*sourceReader{}, targets: map[string]planTarget{}}
	defer p.close()
	return p.plan(ctx)
}

func (p *planner) close() {
	for _, s := range p.sources {
		s.close()
	}
	for _, t := range p.targets {
		t.Close()
	}
}

func (p *planner) plan(ctx context.Context) (*planDoc, error) {
	recorded, err := p.nc.RecordedScopes(ctx)
	if err != nil {
		return nil, err
	}
	if p.streams, err = p.nc.ScopeStreams(ctx); err != nil {
		return nil, err
	}
	doc := &planDoc{Scopes: []scopePlan{}}
	names := make([]string, 0, len(p.cfg.Scopes)+len(recorded))
	for _, s := range p.cfg.Scopes {
		names = append(names, s.Name)
	}
	for name := range recorded {
		if p.cfg.Scope(name) == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		var old *scopes.Scope
		if rec, ok := recorded[name]; ok {
			if old, err = scopes.ParseDefinition(rec.Definition); err != nil {
				return nil, fmt.Errorf("recorded scope %s: %w", name, err)
			}
		}
		sp, err := p.planScope(ctx, old, p.cfg.Scope(name))
		if err != nil {
			return nil, fmt.Errorf("scope %s: %w", name, err)
		}
		doc.Scopes = append(doc.Scopes, sp)
	}
	for _, src := range p.cfg.Sources {
		if src.Kind != scopes.KindPostgres || !p.used(src.Name) {
			continue
		}
		sp, err := p.planSource(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src.Name, err)
		}
		doc.Sources = append(doc.Sources, sp)
	}
	doc.count()
	return doc, nil
}

// used reports whether a scope of the config reads source.
func (p *planner) used(source string) bool {
	return slices.ContainsFunc(p.cfg.Scopes, func(s *scopes.Scope) bool { return s.Source == source })
}

// planScope compares one scope as recorded (old) and configured (new).
func (p *planner) planScope(ctx context.Context, old, new *scopes.Scope) (scopePlan, error) {
	cur := new
	if cur == nil {
		cur = old
	}
	// A scope removed with its source is listed without row counts.
	var src *sourceReader
	if new != nil || p.cfg.Source(cur.Source) != nil {
		var err error
		if src, err = p.source(ctx, cur.Source); err != nil {
			return scopePlan{}, err
		}
	}
	var colErr error
	diff := scopes.Diff(old, new, func(id capture.TableID) []string {
		if src == nil {
			return nil
		}
		cols, err := src.tableColumns(ctx, id)
		if err != nil && colErr == nil {
			colErr = err
		}
		return cols
	})
	if colErr != nil {
		return scopePlan{}, colErr
	}
	sp := scopePlan{Scope: cur.Name, Stream: router.StreamFor(cur), Action: actionNone}
	switch {
	case diff.Added:
		sp.Action = actionCreate
	case diff.Removed:
		sp.Action = actionDelete
	case diff.Changed():
		sp.Action = actionUpdate
	}
	if diff.OldSource != diff.NewSource && !diff.Added && !diff.Removed {
		sp.Source = &change{Old: diff.OldSource, New: diff.NewSource}
	}
	if diff.OldSnapshot != diff.NewSnapshot && !diff.Added && !diff.Removed {
		sp.Snapshot = &change{Old: diff.OldSnapshot, New: diff.NewSnapshot}
	}
	// A scope keeps the stream that holds it; one without gets StreamFor.
	if name, ok := p.streams[cur.Name]; ok {
		sp.Stream, sp.StreamExists = name, true
	}
	for _, td := range diff.Tables {
		tp, err := src.planTable(ctx, td)
		if err != nil {
			return scopePlan{}, err
		}
		if td.Removed {
			if tp.DeleteAt, err = p.emptiedAt(ctx, cur, new, td.Table); err != nil {
				return scopePlan{}, err
			}
			if len(tp.DeleteAt) == 0 {
				tp.Delete = nil // kept at the targets
			}
		}
		sp.Tables = append(sp.Tables, tp)
	}
	if new == nil {
		return sp, nil
	}
	if err := p.pendingSnapshots(ctx, &sp, new, src); err != nil {
		return scopePlan{}, err
	}
	for _, t := range p.cfg.Targets {
		tp, err := p.planTarget(ctx, t, new, src)
		if err != nil {
			return scopePlan{}, fmt.Errorf("target %s: %w", t.Name, err)
		}
		if tp != nil {
			sp.Targets = append(sp.Targets, *tp)
		}
	}
	return sp, nil
}

// pendingSnapshots adds the unchanged tables of s whose snapshot a daemon
// would still take (none is recorded for their definition).
func (p *planner) pendingSnapshots(ctx context.Context, sp *scopePlan, s *scopes.Scope, src *sourceReader) error {
	due, err := p.nc.SnapshotsDue(ctx, s)
	if err != nil {
		return err
	}
	for _, id := range due {
		if slices.ContainsFunc(sp.Tables, func(tp tablePlan) bool { return tp.Table == id.String() }) {
			continue
		}
		st := slices.IndexFunc(s.Tables, func(t *scopes.Table) bool { return t.ID == id })
		n, err := src.count(ctx, id, s.Tables[st].Where, nil)
		if err != nil {
			return err
		}
		sp.Tables = append(sp.Tables, tablePlan{Table: id.String(), Action: actionSnapshot, Backfill: &n})
	}
	return nil
}

// planTable estimates the rows a table change copies and deletes; on a
// nil s, it counts nothing.
func (s *sourceReader) planTable(ctx context.Context, td scopes.TableDiff) (tablePlan, error) {
	tp := tablePlan{Table: td.Table.String(), Action: actionUpdate, ColumnsAdded: td.ColumnsAdded, ColumnsRemoved: td.ColumnsRemoved}
	if td.TargetChanged {
		tp.TargetTable = &change{Old: td.Old.Target.String(), New: td.New.Target.String()}
	}
	if td.MappingChanged {
		tp.Mapping = &change{Old: scopes.MappingText(td.Old), New: scopes.MappingText(td.New)}
	}
	switch {
	case td.Added:
		tp.Action = actionCreate
	case td.Removed:
		tp.Action = actionDelete
	case td.FilterChanged:
		tp.Filter = &change{Old: whereText(td.Old.Where), New: whereText(td.New.Where)}
	}
	if s == nil {
		return tp, nil
	}
	var err error
	var backfill, del capture.RowCount
	switch {
	case td.Added:
		backfill, err = s.count(ctx, td.Table, td.New.Where, nil)
		tp.Backfill = &backfill
	case td.Removed:
		del, err = s.count(ctx, td.Table, td.Old.Where, nil)
		tp.Delete = &del
	case len(td.ColumnsAdded) > 0 || td.TargetChanged || td.MappingChanged:
		// Rows already at the target lack the new columns, a new
		// target table lacks every row, or the rows were mapped
		// otherwise: all rows in scope are copied.
		if backfill, err = s.count(ctx, td.Table, td.New.Where, nil); err != nil {
			return tp, err
		}
		tp.Backfill = &backfill
		if td.FilterChanged {
			del, err = s.count(ctx, td.Table, td.Old.Where, td.New.Where)
			tp.Delete = &del
		}
	case td.FilterChanged:
		// Rows entering the filter are copied, rows leaving it deleted.
		if backfill, err = s.count(ctx, td.Table, td.New.Where, td.Old.Where); err != nil {
			return tp, err
		}
		del, err = s.count(ctx, td.Table, td.Old.Where, td.New.Where)
		tp.Backfill, tp.Delete = &backfill, &del
	}
	return tp, err
}

// emptiedAt returns the targets with removed_tables = "empty" that would
// empty the target table of scope table id, which the config's scope
// (new; nil if the config no longer has the scope) lacks: those whose
// scope_info row records a definition with the table, whose target
// table no other scope of the config writes there (apply.RemovedTables).
func (p *planner) emptiedAt(ctx context.Context, cur, new *scopes.Scope, id capture.TableID) ([]string, error) {
	if new == nil {
		if !removedHere(p.cfg, cur) {
			return nil, nil
		}
		new = &scopes.Scope{Name: cur.Name, Source: cur.Source}
	}
	var at []string
	for _, t := range p.cfg.Targets {
		if t.RemovedTables != scopes.RemovedEmpty {
			continue
		}
		w, err := p.target(t)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		cp, ok, err := w.Checkpoint(ctx, cur.Name, cur.Source)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		if !ok || cp.Definition == nil {
			continue
		}
		old, err := scopes.ParseDefinition(cp.Definition)
		if err != nil {
			continue // the apply worker empties nothing either
		}
		if slices.ContainsFunc(apply.RemovedTables(old, new, sharedTables(p.cfg, t.Name, cur.Name)), func(e apply.Emptied) bool { return e.Table == id }) {
			at = append(at, t.Name)
		}
	}
	return at, nil
}

// planTarget says what target t lacks for scope s: nil if t neither
// applies s nor holds a checkpoint of it.
func (p *planner) planTarget(ctx context.Context, t *scopes.Target, s *scopes.Scope, src *sourceReader) (*targetPlan, error) {
	listed := slices.Contains(s.Targets, t.Name)
	w, err := p.target(t)
	if err != nil {
		return nil, err
	}
	_, applied, err := w.Checkpoint(ctx, s.Name, s.Source)
	if err != nil {
		return nil, err
	}
	tp := &targetPlan{Target: t.Name, CreateTables: t.CreateTables}
	switch {
	case !listed && !applied:
		return nil, nil
	case !listed:
		tp.Action = actionDelete
		return tp, nil
	case !applied:
		tp.Action = actionCreate
	default:
		tp.Action = actionNone
	}
	for _, st := range s.Tables {
		cols := st.Columns
		if cols == nil {
			if cols, err = src.tableColumns(ctx, st.ID); err != nil {
				return nil, err
			}
		}
		exists, missing, err := w.MissingColumns(ctx, st.Target, cols)
		if err != nil {
			return nil, err
		}
		switch {
		case !exists:
			tp.TablesToCreate = append(tp.TablesToCreate, tableColumns{Table: st.Target.String(), Columns: missing})
		case len(missing) > 0:
			tp.ColumnsToAdd = append(tp.ColumnsToAdd, tableColumns{Table: st.Target.String(), Columns: missing})
		}
	}
	if tp.Action == actionNone && (len(tp.TablesToCreate) > 0 || len(tp.ColumnsToAdd) > 0) {
		tp.Action = actionUpdate
	}
	return tp, nil
}

// planSource compares a PostgreSQL source's publication and slot with
// what the config's scopes need.
func (p *planner) planSource(ctx context.Context, s *scopes.Source) (sourcePlan, error) {
	r, err := p.source(ctx, s.Name)
	if err != nil {
		return sourcePlan{}, err
	}
	sp := sourcePlan{Source: s.Name, Publication: s.Publication, Slot: s.Slot}
	pub, err := r.pg.Publication(ctx, s.Publication)
	if err != nil {
		return sp, err
	}
	sp.PublicationExists = pub.Exists
	if !pub.AllTables {
		for _, id := range scopes.NewIndex(p.cfg.Scopes).Tables(s.Name) {
			if !slices.Contains(pub.Tables, id) {
				sp.PublicationAdd = append(sp.PublicationAdd, id.String())
			}
		}
		for _, id := range pub.Tables {
			if len(scopes.NewIndex(p.cfg.Scopes).Lookup(s.Name, id)) == 0 {
				sp.PublicationRemove = append(sp.PublicationRemove, id.String())
			}
		}
	}
	if sp.SlotExists, err = r.pg.SlotExists(ctx, s.Slot); err != nil {
		return sp, err
	}
	return sp, nil
}

func whereText(f *filter.Filter) string {
	if f == nil {
		return ""
	}
	return f.String()
}
