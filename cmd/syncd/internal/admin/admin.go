// Package admin serves syncd's operational HTTP endpoints: /healthz,
// /readyz, /metrics, /scopes, and Go's profiler under /debug/pprof/.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Cause is one reason syncd is not ready.
type Cause struct {
	Component string `json:"component"` // "nats", "source/app", "scope/orders"
	Cause     string `json:"cause"`     // a stable code, e.g. "source_disconnected"
	Detail    string `json:"detail,omitempty"`
}

// Probes are what the endpoints report.
type Probes struct {
	// Ready returns the causes that make syncd not ready; none means ready.
	Ready func() []Cause
	// Scopes returns the JSON document served at /scopes.
	Scopes func(ctx context.Context) any
}

// Server is the admin HTTP server.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// New binds listen, so that a bad or busy address fails at start-up, and
// prepares the handlers. Serve starts serving.
func New(listen string, reg *prometheus.Registry, p Probes) (*Server, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listen on admin address %s: %w", listen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		causes := p.Ready()
		if len(causes) == 0 {
			writeJSON(w, http.StatusOK, map[string]any{"ready": true})
			return
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "causes": causes})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /scopes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, p.Scopes(r.Context()))
	})
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return &Server{
		ln:  ln,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown, then returns nil.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve admin http: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests and waits for those in progress.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
