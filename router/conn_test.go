package router

import (
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/scopes"
)

func TestDurabilityRisk(t *testing.T) {
	tests := []struct {
		name     string
		replicas int
		embedded bool
		want     bool
	}{
		{"embedded server, one replica", 1, true, false},
		{"external server, one replica", 1, false, true},
		{"external cluster, three replicas", 3, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := durabilityRisk(scopes.NATS{URL: "nats://n1:4222", StreamReplicas: tt.replicas}, tt.embedded)
			if (got != "") != tt.want {
				t.Fatalf("durabilityRisk = %q, want a risk: %v", got, tt.want)
			}
			if got != "" && !strings.Contains(got, "sync_interval: always") {
				t.Errorf("the risk %q does not say how to remove it", got)
			}
		})
	}
}
