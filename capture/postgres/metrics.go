package postgres

import "github.com/prometheus/client_golang/prometheus"

// Metrics are one source's Prometheus collectors.
type Metrics struct {
	Changes      prometheus.Counter // row changes read from the slot
	ConfirmedLSN prometheus.Gauge   // last position confirmed to the server
	RetainedWAL  prometheus.Gauge   // WAL the slot holds back, in bytes

	SnapshotRows     *prometheus.GaugeVec // rows copied by the current or last snapshot, by scope and table
	SnapshotEstimate *prometheus.GaugeVec // the planner's estimate of its rows
}

// NewMetrics makes the collectors of the named source and registers them with
// reg, unless reg is nil.
func NewMetrics(reg prometheus.Registerer, source string) *Metrics {
	labels := prometheus.Labels{"source": source}
	m := &Metrics{
		Changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_source_changes_total", Help: "Row changes read from the source.", ConstLabels: labels,
		}),
		ConfirmedLSN: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_source_confirmed_position", Help: "Last log position confirmed to the source, as a number.", ConstLabels: labels,
		}),
		RetainedWAL: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_source_retained_wal_bytes", Help: "WAL the replication slot holds back (pg_current_wal_lsn() - restart_lsn).", ConstLabels: labels,
		}),
		SnapshotRows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_snapshot_rows", Help: "Rows copied by a table's initial snapshot so far.", ConstLabels: labels,
		}, []string{"scope", "table"}),
		SnapshotEstimate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_snapshot_rows_estimated", Help: "The planner's estimate of the rows a table's initial snapshot copies.", ConstLabels: labels,
		}, []string{"scope", "table"}),
	}
	if reg != nil {
		reg.MustRegister(m.Changes, m.ConfirmedLSN, m.RetainedWAL, m.SnapshotRows, m.SnapshotEstimate)
	}
	return m
}
