package apply

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the apply workers' Prometheus collectors.
type Metrics struct {
	Rows        *prometheus.CounterVec   // row changes applied, by scope, target and op
	TxnDuration *prometheus.HistogramVec // target transaction durations, by scope and target
	Lag         *prometheus.GaugeVec     // source commit to target commit of the last transaction applied
	Behind      *prometheus.GaugeVec     // messages in the stream not yet read
	Parked      *prometheus.CounterVec   // rows parked on the DLQ
	Skipped     *prometheus.CounterVec   // re-landed rows the target lacked (SkipCounter)
	Conflicts   *prometheus.CounterVec   // conflicts of two-way scopes, by scope, target, table and kind
}

// NewMetrics makes the collectors and registers them with reg, unless reg
// is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"scope", "target"}
	m := &Metrics{
		Rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_apply_rows_total", Help: "Row changes applied at targets, by scope, target and op.",
		}, []string{"scope", "target", "op"}),
		TxnDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "syncd_apply_txn_seconds", Help: "Duration of target transactions.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, labels),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_apply_lag_seconds", Help: "From source commit to target commit, for the last transaction applied.",
		}, labels),
		Behind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_apply_behind_messages", Help: "Messages of the scope stream not yet read by the worker.",
		}, labels),
		Parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_apply_parked_rows_total", Help: "Rows the target rejected that were parked on the DLQ.",
		}, labels),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_apply_reland_skipped_rows_total", Help: "Re-landed rows (a changed transform's backfill) that the target no longer had, skipped.",
		}, labels),
		Conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_apply_conflicts_total", Help: "Conflicts met applying two-way scopes, by scope, target, target table and kind.",
		}, []string{"scope", "target", "table", "kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.Rows, m.TxnDuration, m.Lag, m.Behind, m.Parked, m.Skipped, m.Conflicts)
	}
	return m
}
