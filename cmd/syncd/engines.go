package main

import (
	"fmt"
	"slices"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/capture/postgres"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// newEngine builds the capture engine of source s. It opens no connection.
func newEngine(s *scopes.Source, cfg *scopes.Config, log hclog.Logger, reg prometheus.Registerer) (engine, router.SourceInfo, error) {
	switch s.Kind {
	case "postgres":
		src, err := postgres.New(postgres.Config{
			Name:        s.Name,
			DSN:         s.DSN,
			Slot:        s.Slot,
			Publication: s.Publication,
			Tables:      tableSpecs(cfg, s.Name),
		}, postgres.Options{Logger: log, Metrics: postgres.NewMetrics(reg, s.Name)})
		if err != nil {
			return nil, router.SourceInfo{}, err
		}
		return pgEngine{src}, router.SourceInfo{Kind: s.Kind, Name: s.Name, DB: src.Database()}, nil
	}
	return nil, router.SourceInfo{}, capture.Terminal(fmt.Errorf("source %q: capture from %s is not supported yet", s.Name, s.Kind))
}

// pgEngine adds the daemon's health view to a PostgreSQL source.
type pgEngine struct{ *postgres.Source }

func (e pgEngine) Health() (any, bool, string) {
	st := e.Status()
	risk := ""
	if st.WALStatus == "unreserved" || st.WALStatus == "lost" {
		risk = fmt.Sprintf("slot %s wal_status is %s: the server may remove or has removed WAL syncd still needs (retained %d bytes)", st.Slot, st.WALStatus, st.RetainedWALBytes)
	}
	return st, st.Connected, risk
}

// tableSpecs lists the tables source must publish, with the scopes that
// cover each and the columns they list or filter on.
func tableSpecs(cfg *scopes.Config, source string) []capture.TableSpec {
	ix := scopes.NewIndex(cfg.Scopes)
	var specs []capture.TableSpec
	for _, id := range ix.Tables(source) {
		spec := capture.TableSpec{ID: id}
		for _, st := range ix.Lookup(source, id) {
			spec.Scopes = append(spec.Scopes, st.Scope.Name)
			spec.Columns = append(spec.Columns, st.Columns...)
			if st.Where != nil {
				spec.Columns = append(spec.Columns, st.Where.Columns()...)
			}
		}
		slices.Sort(spec.Columns)
		spec.Columns = slices.Compact(spec.Columns)
		specs = append(specs, spec)
	}
	return specs
}
