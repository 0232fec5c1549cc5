package sqlserver

import (
	"context"
	"fmt"
	"sync"

	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// ServerConfig is what a SQL Server source run by the daemon needs: the
// poll loop's settings, the server and the tables to publish.
type ServerConfig struct {
	Config
	// DSN is a go-mssqldb connection string
	// ("sqlserver://user:pass@host:1433?database=db").
	DSN string
	// Tables are the tables to publish, with the scopes and columns that
	// use them: the start-up checks need them all present.
	Tables []capture.TableSpec
}

// Server is a SQL Server source as the daemon runs it. Each Run connects,
// runs the start-up checks (Conn.Tables), reads the database's change
// retention and polls with a Source over the connection until ctx is
// done or an error; the checkpoint lives in Config.Store, so the next Run
// resumes where this one stopped.
type Server struct {
	cfg ServerConfig
	db  string
	o   Options

	mu        sync.Mutex
	src       *Source // the running or last Run's; nil before
	connected bool
	err       string
}

// ServerStatus is what a Server reports for health and /scopes.
type ServerStatus struct {
	// Connected says the checks passed and the source is polling.
	Connected bool   `json:"connected"`
	Database  string `json:"database"`
	Status
}

// NewServer checks cfg and returns a Server. It opens no connection: a
// DSN that does not parse fails here (terminally), a server that cannot
// be reached at Prepare or Run.
func NewServer(cfg ServerConfig, o Options) (*Server, error) {
	p, err := msdsn.Parse(cfg.DSN)
	if err != nil {
		return nil, retry.Terminal(fmt.Errorf("parse dsn: %w", err))
	}
	if cfg.Store == nil {
		return nil, retry.Terminal(fmt.Errorf("source %s has no checkpoint store", cfg.Name))
	}
	return &Server{cfg: cfg, db: p.Database, o: o}, nil
}

// Database is the database the DSN names; empty for the login's default.
func (s *Server) Database() string { return s.db }

// Prepare runs the start-up checks: change tracking on for the database
// and each table, ALLOW_SNAPSHOT_ISOLATION ON, SELECT and VIEW CHANGE
// TRACKING on each table, a primary key on each, the columns the scopes
// use. Failed checks are one error marked retry.Terminal, each problem
// naming its fix; a server that cannot be reached is a plain error. It
// creates nothing on the server.
func (s *Server) Prepare(ctx context.Context) error {
	c, err := Connect(s.cfg.DSN)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Tables(ctx, s.cfg.Tables)
	return err
}

// Run implements capture.Source: it connects, checks (as Prepare does)
// and polls until ctx is done or an error.
func (s *Server) Run(ctx context.Context, sink capture.Sink) (err error) {
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.connected = false
		if err != nil && ctx.Err() == nil {
			s.err = err.Error()
		}
	}()
	c, err := Connect(s.cfg.DSN)
	if err != nil {
		return err
	}
	defer c.Close()
	tables, err := c.Tables(ctx, s.cfg.Tables)
	if err != nil {
		return err
	}
	cfg := s.cfg.Config
	if cfg.Retention, err = c.Retention(ctx); err != nil {
		return err
	}
	src, err := New(cfg, c, tables, s.o)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.src, s.connected, s.err = src, true, ""
	s.mu.Unlock()
	return src.Run(ctx, sink)
}

// Status returns the state of the running (or last) Run.
func (s *Server) Status() ServerStatus {
	s.mu.Lock()
	src, st := s.src, ServerStatus{Connected: s.connected, Database: s.db}
	err := s.err
	s.mu.Unlock()
	if src != nil {
		st.Status = src.Status()
	}
	if err != "" {
		st.Error = err
	}
	return st
}
