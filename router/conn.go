package router

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/syncd-dev/syncd/router/embedded"
	"github.com/syncd-dev/syncd/scopes"
)

// Conn is a connection to NATS: to the server or cluster of the config's
// url, or in-process to the embedded server.
type Conn struct {
	nc *nats.Conn

	durabilityRisk string // see DurabilityRisk

	mu        sync.Mutex
	listeners map[int]func() // called after each reconnect
	nextID    int

	dlqMu    sync.Mutex
	dlqReady bool // the DLQ stream exists (guarded by dlqMu, as the next)
	// conflictsReady: the conflicts stream exists.
	conflictsReady bool
}

// Connect dials cfg.URL with cfg's credentials, or, if srv is not nil, the
// embedded server in-process. The connection reconnects forever;
// disconnects and reconnects are logged.
func Connect(cfg scopes.NATS, log hclog.Logger, srv *embedded.Server) (*Conn, error) {
	c := &Conn{listeners: map[int]func(){}}
	opts := []nats.Option{
		nats.Name("syncd"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("disconnected from nats", "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to nats", "server", nc.ConnectedUrlRedacted())
			c.reconnected()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats error", "subject", subject, "error", err)
		}),
	}
	if srv != nil {
		opts = append(opts, srv.ConnectOption())
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.Creds != "" {
		o, err := credsOption(cfg.Creds)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	}
	if tls := cfg.TLS; tls != nil {
		if tls.CAFile != "" {
			opts = append(opts, nats.RootCAs(tls.CAFile))
		}
		if tls.CertFile != "" || tls.KeyFile != "" {
			opts = append(opts, nats.ClientCert(tls.CertFile, tls.KeyFile))
		}
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	c.nc = nc
	c.durabilityRisk = durabilityRisk(cfg, srv != nil)
	return c, nil
}

// DurabilityRisk says why messages that JetStream acknowledged to this
// connection might be lost in a power loss (not a crash) of the NATS
// server, and what makes them durable; "" if they are not at risk.
//
// The embedded server fsyncs every write before it acknowledges, and a
// replicated stream holds each message on a quorum of servers. An
// external server with one replica fsyncs only every sync_interval
// (2 minutes by default) unless it sets sync_interval: always, and a
// client cannot read that setting: it is only in the server's monitoring
// data (varz), which needs the system account.
func (c *Conn) DurabilityRisk() string { return c.durabilityRisk }

func durabilityRisk(cfg scopes.NATS, embedded bool) string {
	if embedded || cfg.StreamReplicas > 1 {
		return ""
	}
	return "streams have one replica (stream_replicas = 1) on an external NATS server, which syncd cannot ask " +
		"whether it fsyncs each write: unless its jetstream block sets sync_interval: always, messages it acknowledged " +
		"since its last periodic fsync are lost in a power loss; set sync_interval: always there, or use a cluster " +
		"with stream_replicas = 3"
}

// onReconnect has f called after each reconnect, until the returned
// function is called.
func (c *Conn) onReconnect(f func()) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	c.listeners[id] = f
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.listeners, id)
	}
}

func (c *Conn) reconnected() {
	c.mu.Lock()
	fs := make([]func(), 0, len(c.listeners))
	for _, f := range c.listeners {
		fs = append(fs, f)
	}
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Connected reports whether the connection is up, and its state.
func (c *Conn) Connected() (bool, string) { return c.nc.IsConnected(), c.nc.Status().String() }

// Close closes the connection.
func (c *Conn) Close() { c.nc.Close() }

// credsOption authenticates with the contents of a .creds file (user JWT
// and nkey seed), which the config reads with file().
func credsOption(creds string) (nats.Option, error) {
	userJWT, err := jwt.ParseDecoratedJWT([]byte(creds))
	if err != nil {
		return nil, fmt.Errorf("read nats creds: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey([]byte(creds))
	if err != nil {
		return nil, fmt.Errorf("read nats creds: %w", err)
	}
	return nats.UserJWT(
		func() (string, error) { return userJWT, nil },
		func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) },
	), nil
}
