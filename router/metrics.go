package router

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the router's Prometheus collectors.
type Metrics struct {
	Events           *prometheus.CounterVec   // messages published, by scope, table and op
	PublishLatency   *prometheus.HistogramVec // batch commit to acknowledgement, by scope
	InflightMessages *prometheus.GaugeVec     // messages sent and not yet acknowledged, by scope
	SkippedReplays   *prometheus.CounterVec   // replayed changes skipped as already stored, by scope
}

// NewMetrics makes the router's collectors and registers them with reg,
// unless reg is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_events_published_total",
			Help: "Row change messages published, by scope, table and op.",
		}, []string{"scope", "table", "op"}),
		PublishLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncd_publish_latency_seconds",
			Help:    "Time from sending a batch's commit to JetStream's acknowledgement that it is stored.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"scope"}),
		InflightMessages: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_inflight_messages",
			Help: "Messages sent to JetStream and not yet acknowledged, by scope.",
		}, []string{"scope"}),
		SkippedReplays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_replayed_changes_skipped_total",
			Help: "Changes the source sent again after a restart that the scope's stream already held.",
		}, []string{"scope"}),
	}
	if reg != nil {
		reg.MustRegister(m.Events, m.PublishLatency, m.InflightMessages, m.SkippedReplays)
	}
	return m
}
