package sqlserver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestServerStartUp: a DSN that does not parse is terminal at NewServer; a
// server that does not answer is a retryable error at Prepare and Run,
// which Status reports, not connected.
func TestServerStartUp(t *testing.T) {
	if _, err := NewServer(ServerConfig{Config: Config{Name: "erp", Store: &memStore{}}, DSN: "sqlserver://erp:notaport"}, Options{}); !retry.IsTerminal(err) {
		t.Fatalf("NewServer with a bad DSN = %v, want a terminal error", err)
	}
	dsn := fmt.Sprintf("sqlserver://syncd:secret@127.0.0.1:%d?database=erp", testenv.FreePort(t))
	s, err := NewServer(ServerConfig{Config: Config{Name: "erp", Store: &memStore{}}, DSN: dsn}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Database() != "erp" {
		t.Errorf("Database() = %q, want erp", s.Database())
	}
	ctx := context.Background()
	if err := s.Prepare(ctx); err == nil || retry.IsTerminal(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Prepare = %v, want a retryable connection refused", err)
	}
	if err := s.Run(ctx, newReplica(t, true)); err == nil || retry.IsTerminal(err) {
		t.Errorf("Run = %v, want a retryable error", err)
	}
	if st := s.Status(); st.Connected || !strings.Contains(st.Error, "connection refused") || st.Database != "erp" {
		t.Errorf("Status() = %+v, want not connected, connection refused, database erp", st)
	}
}
