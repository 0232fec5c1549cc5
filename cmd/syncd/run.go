package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/cmd/syncd/internal/admin"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/router/embedded"
	"github.com/syncd-dev/syncd/scopes"
)

func cmdRun(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	config := fs.String("config", "", "config `path`: an .hcl file or a directory of them")
	level := fs.String("log-level", "info", "log `level`: trace, debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *config == "" {
		fmt.Fprintln(os.Stderr, "syncd run: --config is required")
		return 2
	}
	cfg, ok := loadConfig(*config, runLoadOptions)
	if !ok {
		return 1
	}
	log := newLogger(*level)
	routeDriverLogs(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Caught from here on, so that a SIGHUP during start-up waits for the
	// daemon to run instead of killing it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rl := reloadSource{path: *config, signals: hup}
	if err := runDaemon(ctx, cfg, rl, log); err != nil {
		// Plain text, one problem per line: this is for the operator.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(os.Stderr, "syncd: error:", line)
		}
		return 1
	}
	return 0
}

// runLoadOptions are the options `syncd run` loads its config with, at
// start-up and on each reload.
var runLoadOptions = scopes.LoadOptions{}

// reloadSource is where runDaemon reloads its config from: path, loaded
// again on each value of signals.
type reloadSource struct {
	path    string
	signals <-chan os.Signal
}

// runDaemon starts NATS, the pipeline of cfg (see pipeline) and the admin
// server, runs until ctx is done, and stops them in reverse order: the
// sources first, each draining its publishes and confirming its final
// position, then the admin server, the NATS connection and the embedded
// server. On each signal of rl it reloads the config, see
// reloader.reload.
//
// Everything that can fail without changing a source (NATS, the capture
// engines, the targets, the admin listener) is built before any source is
// provisioned, so that such a failure leaves no slot or publication
// behind. If one source's provisioning stops the start, the slots,
// publications and slot records that this start created on the others
// are dropped again.
func runDaemon(ctx context.Context, cfg *scopes.Config, rl reloadSource, log hclog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var srv *embedded.Server
	if cfg.NATS.URL == "" {
		store := filepath.Join(cfg.DataDir, "nats")
		if err := os.MkdirAll(store, 0o750); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		var err error
		srv, err = embedded.Start(embedded.Config{Listen: cfg.NATS.Listen, StoreDir: store, Logger: log.Named("nats.server")})
		if err != nil {
			return err
		}
		defer srv.Shutdown()
		log.Info("embedded nats server started", "listen", srv.ClientURL(), "store", store)
	}
	nc, err := router.Connect(cfg.NATS, log.Named("nats"), srv)
	if err != nil {
		return err
	}
	defer nc.Close()
	if risk := nc.DurabilityRisk(); risk != "" {
		log.Warn("acknowledged messages may not survive a power loss of the nats server", "reason", risk)
	}
	ctl, err := nc.Control(ctx, cfg.NATS.StreamReplicas)
	if err != nil {
		return err
	}
	defer ctl.Close()

	ps := &pipelines{nc: nc, ctl: ctl, log: log, routerMetrics: router.NewMetrics(reg), applyMetrics: apply.NewMetrics(reg)}
	reloads := newReloader(rl.path, runLoadOptions, ps, log.Named("reload"), reg)
	p, err := ps.build(ctx, cfg)
	if err != nil {
		return err
	}
	ps.current.Store(p) // the probes read it as soon as the admin server serves
	adm, err := admin.New(cfg.Admin.Listen, reg, admin.Probes{
		Ready: func() []admin.Cause { return readiness(nc, ctl, ps.current.Load()) },
		Scopes: func(ctx context.Context) any {
			return scopeStatus(ctx, nc, ctl, ps.current.Load(), reloads.report())
		},
		Metrics: ps,
		Pause:   pauseScope(ctl, func() *scopes.Config { return ps.current.Load().cfg }),
		Resync:  resyncScope(ctl, func() *scopes.Config { return ps.current.Load().cfg }),
	}, admin.Options{Token: cfg.Admin.Token, Pprof: cfg.Admin.Pprof})
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- adm.Serve() }()

	if err := ps.start(ctx, p); err != nil {
		stopAdmin(ctx, adm, served)
		return err
	}
	daemon.SdNotify(false, daemon.SdNotifyReady)
	log.Info("syncd running", "sources", len(p.workers), "scopes", len(cfg.Scopes), "apply_workers", len(p.appliers), "admin", adm.Addr())

	var serveErr, reloadErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case serveErr = <-served:
			served <- serveErr
			break loop
		case <-rl.signals:
			if reloadErr = reloads.reload(ctx); reloadErr != nil {
				break loop
			}
		}
	}
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	log.Info("stopping: draining in-flight publishes and confirming positions")
	ps.current.Load().stop()
	if err := stopAdmin(ctx, adm, served); err != nil {
		return err
	}
	if reloadErr != nil {
		return reloadErr
	}
	log.Info("stopped")
	return nil
}

// stopAdmin shuts the admin server down, waiting up to 10 seconds for the
// requests in progress, and returns what its Serve returned on served.
func stopAdmin(ctx context.Context, adm *admin.Server, served <-chan error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	adm.Shutdown(sctx)
	return <-served
}

// applyWorkers builds an apply worker per (scope, target), each given the
// dependencies of its scope that go to its target and the daemon's
// commits to wait on, and held by gate while its scope is paused. It opens
// no connection; a target syncd cannot write (its kind, a DSN that does
// not parse) stops start-up.
func applyWorkers(cfg *scopes.Config, nc *router.Conn, gate apply.Gate, commits *apply.Commits, log hclog.Logger, m *apply.Metrics) ([]*apply.Worker, error) {
	var out []*apply.Worker
	var problems []error
	for _, s := range cfg.Scopes {
		for _, name := range s.Targets {
			var deps []*scopes.Scope
			for _, d := range s.DependsOn {
				if dep := cfg.Scope(d); slices.Contains(dep.Targets, name) {
					deps = append(deps, dep)
				}
			}
			tlog := log.Named("apply").With("scope", s.Name, "target", name)
			t := cfg.Target(name)
			target, err := newTarget(t, capture.SyncdOrigin(s.Source, s.Name, name), tlog)
			if err != nil {
				problems = append(problems, fmt.Errorf("scope %s: %w", s.Name, err))
				continue
			}
			out = append(out, apply.NewWorker(apply.Config{
				Scope:        s,
				Target:       name,
				SyncdVersion: version,
				Streams:      router.StreamOptionsFrom(cfg.NATS),
				DependsOn:    deps,
				Commits:      commits,
				Gate:         gate,
				Self:         t.SameAs,
				TwoWay:       t.SameAs != "" && cfg.TwoWay(s),
				EmptyRemoved: t.RemovedTables == scopes.RemovedEmpty,
				Shared:       sharedTables(cfg, name, s.Name),
			}, nc, target, tlog, m))
		}
	}
	return out, errors.Join(problems...)
}

// sourceWorkers builds a worker per source that some scope uses. It
// changes nothing on the sources: a source's settings that are bad
// without asking its server (its DSN) stop start-up here, with every
// problem listed.
func sourceWorkers(ctx context.Context, cfg *scopes.Config, nc *router.Conn, ctl *router.Control, pace func(context.Context, string, uint64) error, log hclog.Logger, reg prometheus.Registerer, rm *router.Metrics) ([]*worker, error) {
	var workers []*worker
	var problems []error
	for _, s := range cfg.Sources {
		var names []string
		for _, sc := range cfg.Scopes {
			if sc.Source == s.Name {
				names = append(names, sc.Name)
			}
		}
		slog := log.Named("capture."+s.Kind).With("source", s.Name)
		if len(names) == 0 {
			slog.Warn("no scope uses this source; not reading it")
			continue
		}
		eng, info, err := newEngine(ctx, s, cfg, nc, slog, reg)
		if err != nil {
			problems = append(problems, fmt.Errorf("source %s: %w", s.Name, err))
			continue
		}
		rlog := log.Named("router").With("source", s.Name)
		workers = append(workers, &worker{
			name:   s.Name,
			kind:   s.Kind,
			scopes: names,
			src:    eng,
			log:    slog,
			state:  stateStarting,
			newRouter: func(ctx context.Context) (*router.Router, error) {
				return router.New(ctx, nc, cfg, info, router.Options{Logger: rlog, Metrics: rm, Streams: router.StreamOptionsFrom(cfg.NATS), Resyncs: ctl, Pace: pace})
			},
		})
	}
	return workers, errors.Join(problems...)
}

// provision prepares each worker's source: it checks the server and the
// tables, and creates what capture needs (a PostgreSQL publication and
// slot). Bad settings or tables (terminal errors) stop start-up with every
// problem listed; a source that cannot be reached yet is retried by its
// worker. A start that stops drops what it created on the sources that
// prepared fine, see unprovision.
func provision(ctx context.Context, workers []*worker) error {
	var problems []error
	for _, w := range workers {
		if err := w.src.Prepare(ctx); err != nil {
			if retry.IsTerminal(err) || ctx.Err() != nil {
				problems = append(problems, fmt.Errorf("source %s: %w", w.name, err))
				continue
			}
			w.log.Warn("source not reachable yet; will retry", "error", err)
		}
	}
	if len(problems) > 0 {
		problems = append(problems, unprovision(ctx, workers)...)
	}
	return errors.Join(problems...)
}

// unprovision undoes, in reverse order, what provision created on each
// source, so that a start that fails leaves no slot pinning WAL; what
// existed before this start stays. It runs even if ctx is done, for up
// to 30 seconds, and returns one error per source it could not undo,
// after logging it.
func unprovision(ctx context.Context, workers []*worker) []error {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var problems []error
	for _, w := range slices.Backward(workers) {
		u, ok := w.src.(unprovisioner)
		if !ok {
			continue
		}
		if err := u.Unprovision(uctx); err != nil {
			w.log.Error("could not drop what this start created on the source", "error", err)
			problems = append(problems, fmt.Errorf("source %s: drop what this start created: %w", w.name, err))
		}
	}
	return problems
}
