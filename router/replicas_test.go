package router

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestRouterOnCluster publishes to a three-node JetStream cluster with
// stream_replicas = 3, as README advises at scale: the scope's stream
// has three replicas and every message is durable when acknowledged.
func TestRouterOnCluster(t *testing.T) {
	urls := startCluster(t, 3)
	conn := connect(t, strings.Join(urls, ","))
	r, err := New(context.Background(), conn, testConfig(t), SourceInfo{Kind: "postgres", Name: "app", DB: "app"},
		Options{BatchSize: 1000, Logger: hclog.NewNullLogger(), AckTimeout: 20 * time.Second, Streams: StreamOptions{Replicas: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f := &feeder{t: t, r: r}
	f.txn(3, true)                    // single messages
	last := f.txn(maxSingles+1, true) // an atomic batch
	drainDurable(t, r, last)

	js, err := jetstream.New(conn.nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), StreamName("s"))
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if info.Config.Replicas != 3 || info.State.Msgs != uint64(3+maxSingles+1) {
		t.Fatalf("stream with %d replicas and %d messages, want 3 and %d", info.Config.Replicas, info.State.Msgs, 3+maxSingles+1)
	}
}

// startCluster starts n JetStream servers routed into one cluster and
// returns their client URLs once JetStream is ready.
func startCluster(t *testing.T, n int) []string {
	t.Helper()
	clientPorts, routePorts := make([]int, n), make([]int, n)
	var routes []string
	for i := range n {
		clientPorts[i], routePorts[i] = testenv.FreePort(t), testenv.FreePort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]))
	}
	var urls []string
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			SyncAlways: true,
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "c", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("server %d not ready", i+1)
		}
		urls = append(urls, s.ClientURL())
	}
	conn := connect(t, strings.Join(urls, ","))
	js, err := jetstream.New(conn.nc)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})
	return urls
}
