// Package embedded runs syncd's in-process NATS server with JetStream, for
// single-node deployments that point no nats.url at an external server.
package embedded

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Config is the embedded server's configuration.
type Config struct {
	Listen   string // host:port for clients such as `syncd tail` and subscribers
	StoreDir string // JetStream file store
	Logger   hclog.Logger
}

// Server is a running embedded server.
type Server struct {
	s *server.Server
}

// maxPayload allows rows up to 8 MiB of JSON; the NATS default is 1 MiB.
const maxPayload = 8 << 20

// Start starts the server and waits until it accepts connections. Its file
// store fsyncs every write before JetStream acknowledges it, so a position
// syncd confirms to a source survives a power loss, not only a crash.
// Atomic batches make that one fsync per batch.
func Start(cfg Config) (*Server, error) {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("parse nats listen address %q: %w", cfg.Listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("parse nats listen address %q: %w", cfg.Listen, err)
	}
	opts := &server.Options{
		ServerName: "syncd",
		Host:       host,
		Port:       p,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: true,
		MaxPayload: maxPayload,
		NoSigs:     true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("create nats server: %w", err)
	}
	if cfg.Logger != nil {
		s.SetLoggerV2(logger{cfg.Logger}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("start nats server on %s: not ready within 30s (is the port in use?)", cfg.Listen)
	}
	return &Server{s: s}, nil
}

// ConnectOption makes a client connect in-process, without a socket.
func (s *Server) ConnectOption() nats.Option { return nats.InProcessServer(s.s) }

// ClientURL is the URL other processes connect to.
func (s *Server) ClientURL() string { return s.s.ClientURL() }

// Shutdown stops the server and waits until it has flushed and closed its
// store.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}

// logger adapts hclog to nats-server's logger. The server's notices (its
// start-up banner among them) go to debug; syncd logs the essentials.
type logger struct{ l hclog.Logger }

func (l logger) Noticef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l logger) Fatalf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l logger) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l logger) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Tracef(format string, v ...any)  { l.l.Trace(fmt.Sprintf(format, v...)) }
