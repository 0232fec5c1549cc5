package main

import (
	"context"
	"time"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/cmd/syncd/internal/admin"
	"github.com/syncd-dev/syncd/router"
)

// readiness lists why syncd is not ready: NATS not connected, a source
// of pipeline p not streaming or at risk of losing log, a scope not
// publishing, a target not applying. A paused scope is not a cause, and
// neither is its target being unavailable: nothing is applied to it
// meanwhile.
func readiness(nc *router.Conn, ctl *router.Control, p *pipeline) []admin.Cause {
	var causes []admin.Cause
	if ok, state := nc.Connected(); !ok {
		causes = append(causes, admin.Cause{Component: "nats", Cause: "nats_disconnected", Detail: state})
	}
	for _, w := range p.workers {
		state, err, r := w.snapshot()
		_, connected, risk := w.src.Health()
		component := "source/" + w.name
		switch {
		case state == stateFailed:
			causes = append(causes, admin.Cause{Component: component, Cause: "source_failed", Detail: errText(err)})
		case !connected:
			causes = append(causes, admin.Cause{Component: component, Cause: "source_disconnected", Detail: errText(err)})
		}
		if risk != "" {
			causes = append(causes, admin.Cause{Component: component, Cause: "log_retention_at_risk", Detail: risk})
		}
		if r == nil {
			for _, s := range w.scopes {
				causes = append(causes, admin.Cause{Component: "scope/" + s, Cause: "scope_not_publishing", Detail: "its source is " + state})
			}
			continue
		}
		for _, st := range r.Status() {
			if st.Error != "" {
				causes = append(causes, admin.Cause{Component: "scope/" + st.Scope, Cause: "publish_failed", Detail: st.Error})
			}
		}
	}
	for _, a := range p.appliers {
		st := a.Status()
		component := "scope/" + st.Scope + "/target/" + st.Target
		switch st.State {
		case apply.StateFailed:
			causes = append(causes, admin.Cause{Component: component, Cause: "apply_failed", Detail: st.Error})
		case apply.StateRetrying:
			if paused, _ := ctl.Paused(st.Scope); paused {
				continue
			}
			causes = append(causes, admin.Cause{Component: component, Cause: "target_unavailable", Detail: st.Error})
		}
	}
	return causes
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sourceReport and scopeReport make up the /scopes document.
type sourceReport struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	State  string `json:"state"`
	Error  string `json:"error,omitempty"`
	Status any    `json:"status"`
}

type scopeReport struct {
	Name    string              `json:"name"`
	Source  string              `json:"source"`
	Targets []string            `json:"targets"`
	Tables  int                 `json:"tables"`
	Publish *router.ScopeStatus `json:"publishing,omitempty"`
	Apply   []apply.Status      `json:"apply"`
	Stream  *router.StreamState `json:"stream,omitempty"`
	// Paused and PausedSince: see syncd pause.
	Paused      bool       `json:"paused"`
	PausedSince *time.Time `json:"paused_since,omitempty"`
	// Resyncs are the scope's resyncs under way (syncd resync); the
	// copies they make show in Publish.Copies.
	Resyncs []router.Resync `json:"resyncs,omitempty"`
}

// scopeStatus returns the /scopes document of pipeline p, with reload,
// the config in effect and the last reload's outcome, and each scope's
// paused state from ctl.
func scopeStatus(ctx context.Context, nc *router.Conn, ctl *router.Control, p *pipeline, reload reloadReport) any {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	publishing := map[string]*router.ScopeStatus{}
	var sources []sourceReport
	for _, w := range p.workers {
		state, err, r := w.snapshot()
		st, _, _ := w.src.Health()
		sources = append(sources, sourceReport{Name: w.name, Kind: w.kind, State: state, Error: errText(err), Status: st})
		if r != nil {
			for _, s := range r.Status() {
				publishing[s.Scope] = &s
			}
		}
	}
	var reports []scopeReport
	resyncs := ctl.Resyncs()
	names := make([]string, len(p.cfg.Scopes))
	for i, s := range p.cfg.Scopes {
		names[i] = s.Name
	}
	streams, _ := nc.StreamStates(ctx, names) // none shown while NATS does not answer
	for _, s := range p.cfg.Scopes {
		rep := scopeReport{Name: s.Name, Source: s.Source, Targets: s.Targets, Tables: len(s.Tables), Publish: publishing[s.Name], Apply: []apply.Status{}}
		if ps, _ := ctl.State(s.Name); ps.Paused {
			rep.Paused, rep.PausedSince = true, &ps.Since
		}
		for _, rs := range resyncs {
			if rs.Scope == s.Name {
				rep.Resyncs = append(rep.Resyncs, rs)
			}
		}
		for _, a := range p.appliers {
			if st := a.Status(); st.Scope == s.Name {
				rep.Apply = append(rep.Apply, st)
			}
		}
		rep.Stream = streams[s.Name]
		reports = append(reports, rep)
	}
	return map[string]any{"nats": natsStatus(nc), "sources": sources, "scopes": reports, "reload": reload}
}

// natsReport is the nats part of the /scopes document.
type natsReport struct {
	Connected bool   `json:"connected"`
	State     string `json:"state"`
	// DurabilityRisk is router.Conn.DurabilityRisk: why a power loss of
	// the NATS server could lose what syncd has confirmed to its sources.
	DurabilityRisk string `json:"durability_risk,omitempty"`
}

func natsStatus(nc *router.Conn) natsReport {
	ok, state := nc.Connected()
	return natsReport{Connected: ok, State: state, DurabilityRisk: nc.DurabilityRisk()}
}
