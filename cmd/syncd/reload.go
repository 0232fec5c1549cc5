package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/syncd-dev/syncd/scopes"
)

// Outcomes of a config reload, as /scopes shows them.
const (
	// reloadApplied: the new config runs, as after a restart.
	reloadApplied = "applied"
	// reloadUnchanged: the config runs as it was; nothing restarted.
	reloadUnchanged = "unchanged"
	// reloadRejected: the new config does not validate, or changes what
	// only a restart can; the old config runs untouched.
	reloadRejected = "rejected"
	// reloadFailed: the new config is valid but could not start (a
	// target kind syncd cannot write, a source that refused its
	// publication); the old config runs, untouched or restarted.
	reloadFailed = "failed"
)

// reloadReport is the reload object of the /scopes document: the config
// in effect and the last reload's outcome.
type reloadReport struct {
	// Generation counts the configs applied: 1 for the one syncd
	// started with, plus one per applied reload.
	Generation int `json:"generation"`
	// ConfigHash identifies the config in effect, see configHash.
	ConfigHash string `json:"config_hash"`
	// At, Outcome and Diagnostics describe the last reload; empty before
	// the first. Diagnostics are file:line:col: severity: message lines.
	At          *time.Time `json:"at,omitempty"`
	Outcome     string     `json:"outcome,omitempty"`
	Diagnostics []string   `json:"diagnostics,omitempty"`
}

// reloader re-reads the config that `syncd run` started with and replaces
// the running pipeline when it changed. Its reload runs on the daemon's
// main loop, one at a time; report may be called from any goroutine.
type reloader struct {
	path     string
	opts     scopes.LoadOptions // the same as at start-up
	ps       *pipelines
	log      hclog.Logger
	failures prometheus.Counter

	mu   sync.Mutex
	last reloadReport
}

func newReloader(path string, opts scopes.LoadOptions, ps *pipelines, log hclog.Logger, reg prometheus.Registerer) *reloader {
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "syncd_config_reload_failures_total",
		Help: "Config reloads rejected (invalid config, or a change that needs a restart) or failed to start.",
	})
	reg.MustRegister(failures)
	return &reloader{path: path, opts: opts, ps: ps, log: log, failures: failures, last: reloadReport{Generation: 1}}
}

// report returns the reload object of /scopes.
func (r *reloader) report() reloadReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.last
	if p := r.ps.current.Load(); p != nil {
		rep.ConfigHash = p.hash
	}
	return rep
}

// reload loads the config again and applies it, telling systemd
// RELOADING=1 before and READY=1 after, whatever the outcome. An invalid
// config changes nothing. A valid, changed one replaces the pipeline as
// a restart would: its workers are built first, then the running ones
// stop (draining, as at shutdown) and the new ones are provisioned and
// started. If they cannot start, the old config's pipeline starts again.
//
// It returns an error only if neither config could be started, which
// leaves nothing running: the daemon must then exit.
func (r *reloader) reload(ctx context.Context) error {
	notifyReloading()
	r.log.Info("reloading config", "path", r.path)
	outcome, diags, err := r.apply(ctx)
	lines := diagnosticLines(diags)
	for i, d := range diags {
		if d.Severity == hcl.DiagError {
			r.log.Error("config reload: diagnostic", "diagnostic", lines[i])
		} else {
			r.log.Warn("config reload: diagnostic", "diagnostic", lines[i])
		}
	}
	r.mu.Lock()
	now := time.Now().UTC()
	if outcome == reloadApplied {
		r.last.Generation++
	}
	r.last.At, r.last.Outcome, r.last.Diagnostics = &now, outcome, lines
	r.mu.Unlock()
	if outcome == reloadRejected || outcome == reloadFailed {
		r.failures.Inc()
	}
	r.log.Info("config reload done", "outcome", outcome, "generation", r.report().Generation)
	daemon.SdNotify(false, daemon.SdNotifyReady+"\nSTATUS=config reload "+outcome)
	return err
}

// apply does reload's work and returns its outcome with the diagnostics
// to report; a failure to start is one diagnostic without a position.
func (r *reloader) apply(ctx context.Context) (string, hcl.Diagnostics, error) {
	old := r.ps.current.Load()
	cfg, diags := scopes.Load(r.path, r.opts)
	if !diags.HasErrors() {
		diags = append(diags, restartOnly(old.cfg, cfg)...)
	}
	if diags.HasErrors() {
		return reloadRejected, diags, nil
	}
	if configHash(cfg) == old.hash {
		return reloadUnchanged, diags, nil
	}
	next, err := r.ps.build(ctx, cfg)
	if err != nil {
		return reloadFailed, append(diags, failure("New config not started", err)), nil
	}
	r.log.Info("config changed; stopping the running sources and apply workers")
	old.stop()
	if err := r.ps.start(ctx, next); err != nil {
		diags = append(diags, failure("New config not started", err))
		return reloadFailed, diags, r.restore(ctx, old.cfg, err)
	}
	return reloadApplied, diags, nil
}

// restore starts the pipeline of the previous config, cfg, again after
// the new one failed to start with cause. It returns an error if that
// fails too, unless ctx is done (the daemon is stopping anyway).
func (r *reloader) restore(ctx context.Context, cfg *scopes.Config, cause error) error {
	if ctx.Err() != nil {
		return nil
	}
	r.log.Error("new config did not start; starting the previous one again", "error", cause)
	back, err := r.ps.build(ctx, cfg)
	if err == nil {
		err = r.ps.start(ctx, back)
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("start the previous config again after a failed reload: %w", err)
	}
	return nil
}

// failure is err as a diagnostic without a position.
func failure(summary string, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: err.Error()}
}

// diagnosticLines formats each diagnostic as scopes.FormatDiagnostics
// does, one string each.
func diagnosticLines(diags hcl.Diagnostics) []string {
	lines := make([]string, 0, len(diags))
	for _, d := range diags {
		var b strings.Builder
		scopes.FormatDiagnostics(&b, hcl.Diagnostics{d})
		lines = append(lines, strings.TrimSuffix(b.String(), "\n"))
	}
	return lines
}

// restartOnly reports, at the new config's position, each setting that a
// reload cannot change: the nats block (the connection and the embedded
// server outlive pipelines), data_dir and the admin block (its listener
// serves during the reload).
func restartOnly(old, cfg *scopes.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	needsRestart := func(what string, rng hcl.Range) {
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Change needs a restart",
			Detail:   fmt.Sprintf("A reload cannot change the %s; restart syncd to apply it. The running config is unchanged.", what),
		}
		if rng.Filename != "" {
			d.Subject = rng.Ptr()
		}
		diags = append(diags, d)
	}
	a, b := old.NATS, cfg.NATS
	a.DeclRange, b.DeclRange = hcl.Range{}, hcl.Range{}
	if !reflect.DeepEqual(a, b) {
		needsRestart("nats block", cfg.NATS.DeclRange)
	}
	if old.DataDir != cfg.DataDir {
		needsRestart("data_dir", cfg.DataDirRange)
	}
	x, y := old.Admin, cfg.Admin
	x.DeclRange, y.DeclRange = hcl.Range{}, hcl.Range{}
	if x != y {
		needsRestart("admin block", cfg.Admin.DeclRange)
	}
	return diags
}

// configHash is the hex SHA-256 of what a pipeline is built from: the
// sources and targets (DSNs included) and each scope's definition hash,
// targets and apply settings, in name order. Moving blocks around in the
// files does not change it. The nats, data_dir and admin settings are
// left out: a reload cannot change them.
func configHash(cfg *scopes.Config) string {
	type scopeDoc struct {
		Hash           string   `json:"hash"`
		Targets        []string `json:"targets"`
		OnApplyError   string   `json:"on_apply_error"`
		RowsPerMessage int      `json:"rows_per_message"`
	}
	var doc struct {
		Sources []scopes.Source `json:"sources"`
		Targets []scopes.Target `json:"targets"`
		Scopes  []scopeDoc      `json:"scopes"`
	}
	for _, s := range cfg.Sources {
		c := *s
		c.DeclRange = hcl.Range{}
		doc.Sources = append(doc.Sources, c)
	}
	slices.SortFunc(doc.Sources, func(a, b scopes.Source) int { return cmp.Compare(a.Name, b.Name) })
	for _, t := range cfg.Targets {
		c := *t
		c.DeclRange = hcl.Range{}
		doc.Targets = append(doc.Targets, c)
	}
	slices.SortFunc(doc.Targets, func(a, b scopes.Target) int { return cmp.Compare(a.Name, b.Name) })
	for _, s := range slices.SortedFunc(slices.Values(cfg.Scopes), func(a, b *scopes.Scope) int { return cmp.Compare(a.Name, b.Name) }) {
		doc.Scopes = append(doc.Scopes, scopeDoc{Hash: s.Hash(), Targets: s.Targets, OnApplyError: s.OnApplyError, RowsPerMessage: s.RowsPerMessage})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("syncd: marshal config hash document: " + err.Error()) // strings and numbers: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// notifyReloading tells systemd that a reload started. MONOTONIC_USEC is
// required with Type=notify-reload (systemd 253 and later) and ignored
// otherwise, see sd_notify(3).
func notifyReloading() {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		daemon.SdNotify(false, daemon.SdNotifyReloading)
		return
	}
	daemon.SdNotify(false, fmt.Sprintf("%s\nMONOTONIC_USEC=%d", daemon.SdNotifyReloading, ts.Nano()/1000))
}
