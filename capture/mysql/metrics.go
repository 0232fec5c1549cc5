package mysql

import "github.com/prometheus/client_golang/prometheus"

// Metrics are one source's Prometheus collectors. Names shared with
// capture/postgres have the same help and labels, so both engines
// register in one registry.
type Metrics struct {
	Events        *prometheus.CounterVec // row changes passed to the sink, by table and op
	SavedPosition prometheus.Gauge       // last durable position saved in the store
	ReadPosition  prometheus.Gauge       // position of the last binlog event read
	BytesRead     prometheus.Counter     // binlog bytes read
	SecondsBehind prometheus.Gauge       // now minus the timestamp of the last event read

	SnapshotRows     *prometheus.GaugeVec // rows copied by the current or last snapshot, by scope and table
	SnapshotEstimate *prometheus.GaugeVec // the server's estimate of the table's rows
}

// NewMetrics makes the collectors of the named source and registers them
// with reg, unless reg is nil.
func NewMetrics(reg prometheus.Registerer, source string) *Metrics {
	labels := prometheus.Labels{"source": source}
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_source_binlog_events_total", Help: "Row changes read from the binlog and passed on, by table and op.", ConstLabels: labels,
		}, []string{"table", "op"}),
		SavedPosition: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_source_confirmed_position", Help: "Last log position confirmed to the source, as a number.", ConstLabels: labels,
		}),
		ReadPosition: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_source_binlog_read_position", Help: "Binlog position of the last event read (file sequence << 32 | offset).", ConstLabels: labels,
		}),
		BytesRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_source_binlog_bytes_read_total", Help: "Binlog bytes read from the server.", ConstLabels: labels,
		}),
		SecondsBehind: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_source_binlog_seconds_behind", Help: "Seconds between now and the timestamp of the last binlog event read.", ConstLabels: labels,
		}),
		SnapshotRows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_snapshot_rows", Help: "Rows copied by a table's initial snapshot so far.", ConstLabels: labels,
		}, []string{"scope", "table"}),
		SnapshotEstimate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_snapshot_rows_estimated", Help: "The planner's estimate of the rows a table's initial snapshot copies.", ConstLabels: labels,
		}, []string{"scope", "table"}),
	}
	if reg != nil {
		reg.MustRegister(m.Events, m.SavedPosition, m.ReadPosition, m.BytesRead, m.SecondsBehind, m.SnapshotRows, m.SnapshotEstimate)
	}
	return m
}
