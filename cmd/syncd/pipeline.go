package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sync/errgroup"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// pipeline is what one config runs: a capture worker per source and an
// apply worker per (scope, target). A config reload replaces the whole
// pipeline; NATS and the admin server outlive it.
type pipeline struct {
	cfg      *scopes.Config
	hash     string // configHash(cfg)
	workers  []*worker
	appliers []*apply.Worker
	// metrics holds the capture engines' collectors, which are per
	// source and so registered again by each pipeline.
	metrics *prometheus.Registry

	cancel context.CancelFunc // nil until started
	g      errgroup.Group
}

// pipelines builds, starts and stops pipelines on one NATS connection,
// and keeps the one running for the admin probes.
type pipelines struct {
	nc            *router.Conn
	ctl           *router.Control // paused scopes: holds their apply workers
	log           hclog.Logger
	routerMetrics *router.Metrics // built once: collectors register once
	applyMetrics  *apply.Metrics

	current atomic.Pointer[pipeline]
}

// build builds cfg's pipeline without changing anything on a source or
// target: a source or target syncd cannot use (its kind, a DSN that does
// not parse) is an error, with every problem listed.
func (ps *pipelines) build(ctx context.Context, cfg *scopes.Config) (*pipeline, error) {
	reg := prometheus.NewRegistry()
	commits := apply.NewCommits()
	appliers, aerr := applyWorkers(cfg, ps.nc, ps.ctl, commits, ps.log, ps.applyMetrics)
	workers, werr := sourceWorkers(ctx, cfg, ps.nc, ps.ctl, pace(appliers, commits), ps.log, reg, ps.routerMetrics)
	if err := errors.Join(werr, aerr); err != nil {
		return nil, err
	}
	registerPaused(reg, ps.ctl, cfg)
	return &pipeline{cfg: cfg, hash: configHash(cfg), workers: workers, appliers: appliers, metrics: reg}, nil
}

// start makes p the current pipeline, provisions its sources (see
// provision) and starts its workers under ctx, and the emptying of the
// tables of removed scopes (emptyRemovedScopes). If provisioning fails, no
// worker runs and what it created on the sources is dropped again.
func (ps *pipelines) start(ctx context.Context, p *pipeline) error {
	ps.current.Store(p)
	if err := provision(ctx, p.workers); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	for _, w := range p.workers {
		p.g.Go(func() error { return w.run(wctx) })
	}
	for _, a := range p.appliers {
		p.g.Go(func() error { return a.Run(wctx) })
	}
	p.g.Go(func() error { return emptyRemovedScopes(wctx, p.cfg, ps.nc, ps.log.Named("apply.removed")) })
	return nil
}

// stop stops p's workers and waits for them: each source drains its
// in-flight publishes and confirms its final position, each apply worker
// commits or rolls back its transaction. It does nothing if p never
// started.
func (p *pipeline) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.g.Wait()
}

// Gather gathers the current pipeline's engine metrics.
func (ps *pipelines) Gather() ([]*dto.MetricFamily, error) {
	p := ps.current.Load()
	if p == nil {
		return nil, nil
	}
	return p.metrics.Gather()
}
