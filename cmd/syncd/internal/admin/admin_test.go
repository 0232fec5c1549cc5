package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func testServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handler(prometheus.NewRegistry(), Probes{
		Ready:  func() []Cause { return nil },
		Scopes: func(context.Context) any { return map[string]any{"scopes": []string{}} },
		Pause: func(_ context.Context, name string, pause bool) (any, error) {
			if name != "orders" {
				return nil, fmt.Errorf("pause %s: %w", name, ErrUnknownScope)
			}
			return map[string]any{"scope": name, "paused": pause}, nil
		},
		Resync: func(_ context.Context, name, table, target string) (any, error) {
			if name != "orders" || table != "" && table != "public.orders" || target != "" && target != "replica" {
				return nil, fmt.Errorf("resync %s %s %s: %w", name, table, target, ErrUnknownScope)
			}
			return map[string]any{"scope": name, "table": table, "target": target}, nil
		},
	}, opts))
	t.Cleanup(srv.Close)
	return srv
}

func status(t *testing.T, srv *httptest.Server, path, authorization string) int {
	t.Helper()
	method, path, ok := strings.Cut(path, " ")
	if !ok {
		method, path = http.MethodGet, method
	}
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAdminToken(t *testing.T) {
	const token = "t0ken-for-the-admin-test"
	tests := []struct {
		name          string
		opts          Options
		path          string
		authorization string
		want          int
	}{
		{"healthz open", Options{Token: token}, "/healthz", "", http.StatusOK},
		{"readyz open", Options{Token: token}, "/readyz", "", http.StatusOK},
		{"scopes without token", Options{Token: token}, "/scopes", "", http.StatusUnauthorized},
		{"scopes wrong token", Options{Token: token}, "/scopes", "Bearer " + token + "x", http.StatusUnauthorized},
		{"scopes token without Bearer", Options{Token: token}, "/scopes", token, http.StatusUnauthorized},
		{"scopes right token", Options{Token: token}, "/scopes", "Bearer " + token, http.StatusOK},
		{"metrics without token", Options{Token: token}, "/metrics", "", http.StatusUnauthorized},
		{"metrics wrong token", Options{Token: token}, "/metrics", "Bearer nope", http.StatusUnauthorized},
		{"metrics right token", Options{Token: token}, "/metrics", "Bearer " + token, http.StatusOK},
		{"unknown path without token", Options{Token: token}, "/nope", "", http.StatusUnauthorized},
		{"pprof without token", Options{Token: token, Pprof: true}, "/debug/pprof/", "", http.StatusUnauthorized},
		{"pprof right token", Options{Token: token, Pprof: true}, "/debug/pprof/", "Bearer " + token, http.StatusOK},
		{"pprof off", Options{Token: token}, "/debug/pprof/", "Bearer " + token, http.StatusNotFound},
		{"pprof off, no token", Options{}, "/debug/pprof/", "", http.StatusNotFound},
		{"pprof on, no token", Options{Pprof: true}, "/debug/pprof/", "", http.StatusOK},
		{"no token: scopes open", Options{}, "/scopes", "", http.StatusOK},
		{"no token: metrics open", Options{}, "/metrics", "", http.StatusOK},
		{"pause without token", Options{Token: token}, "POST /scopes/orders/pause", "", http.StatusUnauthorized},
		{"pause right token", Options{Token: token}, "POST /scopes/orders/pause", "Bearer " + token, http.StatusOK},
		{"resume without token", Options{Token: token}, "POST /scopes/orders/resume", "", http.StatusUnauthorized},
		{"resume right token", Options{Token: token}, "POST /scopes/orders/resume", "Bearer " + token, http.StatusOK},
		{"pause unknown scope", Options{Token: token}, "POST /scopes/nope/pause", "Bearer " + token, http.StatusNotFound},
		{"resume unknown scope", Options{}, "POST /scopes/nope/resume", "", http.StatusNotFound},
		{"pause by GET", Options{}, "GET /scopes/orders/pause", "", http.StatusMethodNotAllowed},
		{"resync without token", Options{Token: token}, "POST /scopes/orders/resync", "", http.StatusUnauthorized},
		{"resync right token", Options{Token: token}, "POST /scopes/orders/resync?table=public.orders&target=replica", "Bearer " + token, http.StatusOK},
		{"resync unknown target", Options{Token: token}, "POST /scopes/orders/resync?target=nope", "Bearer " + token, http.StatusNotFound},
		{"resync by GET", Options{}, "GET /scopes/orders/resync", "", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testServer(t, tt.opts)
			if got := status(t, srv, tt.path, tt.authorization); got != tt.want {
				t.Errorf("%s with Authorization %q: status %d, want %d", tt.path, tt.authorization, got, tt.want)
			}
		})
	}
}
