package sqlserver

import "github.com/prometheus/client_golang/prometheus"

// metrics is a Server's Prometheus collector: its status, read at each
// scrape. syncd_source_confirmed_position has the name and help of the
// other engines' gauge, so that all register in one registry.
type metrics struct {
	s                         *Server
	saved, read, left, atRisk *prometheus.Desc
}

// RegisterMetrics registers the source's gauges with reg: the saved
// checkpoint version (syncd_source_confirmed_position), the version read
// through, whether the checkpoint is past half of the change retention
// and, only then, the estimated seconds before the cleanup may remove
// changes after it (the metric of retention health). A nil reg
// registers nothing.
func (s *Server) RegisterMetrics(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	labels := prometheus.Labels{"source": s.cfg.Name}
	reg.MustRegister(&metrics{
		s:      s,
		saved:  prometheus.NewDesc("syncd_source_confirmed_position", "Last log position confirmed to the source, as a number.", nil, labels),
		read:   prometheus.NewDesc("syncd_source_change_tracking_version", "SQL Server change tracking version read through.", nil, labels),
		atRisk: prometheus.NewDesc("syncd_source_change_retention_at_risk", "1 when the SQL Server checkpoint is older than half of the database's CHANGE_RETENTION.", nil, labels),
		left:   prometheus.NewDesc("syncd_source_change_retention_left_seconds", "Estimated seconds before change tracking cleanup may remove changes after the checkpoint; only while at risk.", nil, labels),
	})
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.saved
	ch <- m.read
	ch <- m.atRisk
	ch <- m.left
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	st := m.s.Status()
	if st.Saved != nil {
		ch <- prometheus.MustNewConstMetric(m.saved, prometheus.GaugeValue, float64(*st.Saved))
	}
	ch <- prometheus.MustNewConstMetric(m.read, prometheus.GaugeValue, float64(st.Version))
	risk := 0.0
	if st.RetentionRisk != "" {
		risk = 1
		ch <- prometheus.MustNewConstMetric(m.left, prometheus.GaugeValue, st.RetentionLeft.Seconds())
	}
	ch <- prometheus.MustNewConstMetric(m.atRisk, prometheus.GaugeValue, risk)
}
