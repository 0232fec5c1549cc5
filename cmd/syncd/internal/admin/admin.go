// Package admin serves syncd's operational HTTP endpoints: /healthz,
// /readyz, /metrics, /scopes, POST /scopes/{name}/pause and
// /scopes/{name}/resume, and, if enabled, Go's profiler under
// /debug/pprof/.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
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
	// Metrics, if not nil, gathers metrics served on /metrics along with
	// the registry's: those of the sources running now, which a config
	// reload replaces.
	Metrics prometheus.Gatherer
	// Pause pauses the scope name (pause true) or resumes it, and
	// returns its new state, served as JSON; an error wrapping
	// ErrUnknownScope if there is no such scope. Nil: those paths are 404.
	Pause func(ctx context.Context, name string, pause bool) (any, error)
	// Resync asks for a resync of the scope name, of the table and to the
	// target given ("": every one), and returns it, served as JSON; an
	// error wrapping ErrUnknownScope if the config has no such scope,
	// table or target. Nil: that path is 404.
	Resync func(ctx context.Context, name, table, target string) (any, error)
}

// ErrUnknownScope is what Probes.Pause returns for a scope the config
// does not have.
var ErrUnknownScope = errors.New("no such scope")

// Options are the admin block's security settings.
type Options struct {
	// Token, if not empty, is the bearer token that every endpoint but
	// /healthz and /readyz requires: a request without
	// "Authorization: Bearer <Token>" gets 401.
	Token string
	// Pprof serves Go's profiler under /debug/pprof/; without it those
	// paths are 404.
	Pprof bool
}

// Server is the admin HTTP server.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// New binds listen, so that a bad or busy address fails at start-up, and
// prepares the handlers. Serve starts serving.
func New(listen string, reg *prometheus.Registry, p Probes, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listen on admin address %s: %w", listen, err)
	}
	return &Server{
		ln:  ln,
		srv: &http.Server{Handler: handler(reg, p, opts), ReadHeaderTimeout: 10 * time.Second},
	}, nil
}

// handler routes the endpoints; the probes are open, the rest requires
// opts.Token if it is set.
func handler(reg *prometheus.Registry, p Probes, opts Options) http.Handler {
	open := http.NewServeMux()
	open.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	open.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		causes := p.Ready()
		if len(causes) == 0 {
			writeJSON(w, http.StatusOK, map[string]any{"ready": true})
			return
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "causes": causes})
	})
	guarded := http.NewServeMux()
	var metrics prometheus.Gatherer = reg
	if p.Metrics != nil {
		metrics = prometheus.Gatherers{reg, p.Metrics}
	}
	guarded.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{Registry: reg}))
	guarded.HandleFunc("GET /scopes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, p.Scopes(r.Context()))
	})
	if p.Pause != nil {
		for action, pause := range map[string]bool{"pause": true, "resume": false} {
			guarded.HandleFunc("POST /scopes/{name}/"+action, func(w http.ResponseWriter, r *http.Request) {
				writeAnswer(w)(p.Pause(r.Context(), r.PathValue("name"), pause))
			})
		}
	}
	if p.Resync != nil {
		guarded.HandleFunc("POST /scopes/{name}/resync", func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			writeAnswer(w)(p.Resync(r.Context(), r.PathValue("name"), q.Get("table"), q.Get("target")))
		})
	}
	if opts.Pprof {
		guarded.HandleFunc("GET /debug/pprof/", pprof.Index)
		guarded.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		guarded.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	open.Handle("/", requireToken(opts.Token, guarded))
	return open
}

// writeAnswer returns a function that writes an action's answer: 404 for
// ErrUnknownScope, 500 for other errors, the state otherwise.
func writeAnswer(w http.ResponseWriter) func(state any, err error) {
	return func(state any, err error) {
		switch {
		case errors.Is(err, ErrUnknownScope):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, state)
		}
	}
}

// requireToken passes requests carrying "Authorization: Bearer <token>" to
// next and answers 401 to the others; an empty token lets every request
// through. The tokens are compared as SHA-256 sums in constant time, so
// that neither their content nor their length shows in response times.
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := sha256.Sum256([]byte("Bearer " + token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="syncd"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
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
