package sqlserver

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetrics: the gauges follow the status; the time left is reported
// only while the checkpoint is at risk.
func TestMetrics(t *testing.T) {
	s := &Server{cfg: ServerConfig{Config: Config{Name: "erp"}}, src: &Source{}}
	reg := prometheus.NewRegistry()
	s.RegisterMetrics(reg)
	gauges := func() map[string]float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			out[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
		}
		return out
	}
	saved := int64(5)
	s.src.setStatus(func(st *Status) { st.Version, st.Saved = 9, &saved })
	g := gauges()
	if g["syncd_source_change_tracking_version"] != 9 || g["syncd_source_confirmed_position"] != 5 || g["syncd_source_change_retention_at_risk"] != 0 {
		t.Errorf("gauges %v", g)
	}
	if _, ok := g["syncd_source_change_retention_left_seconds"]; ok {
		t.Errorf("time left reported while not at risk: %v", g)
	}
	s.src.setStatus(func(st *Status) { st.RetentionRisk, st.RetentionLeft = "old", 90*time.Second })
	if g := gauges(); g["syncd_source_change_retention_at_risk"] != 1 || g["syncd_source_change_retention_left_seconds"] != 90 {
		t.Errorf("gauges at risk %v", g)
	}
}
