package embedded

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestStartSyncsEveryWrite: the embedded server runs JetStream with its
// file store under StoreDir, fsyncing every write before it acknowledges
// it (README: "the embedded server fsyncs before it acknowledges").
func TestStartSyncsEveryWrite(t *testing.T) {
	dir := t.TempDir()
	srv, err := Start(Config{Listen: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	cfg := srv.s.JetStreamConfig()
	if cfg == nil {
		t.Fatal("JetStream is not enabled")
	}
	if !cfg.SyncAlways {
		t.Errorf("JetStream config %+v: SyncAlways is off, so acknowledged messages may be lost in a power loss", *cfg)
	}
	if !strings.HasPrefix(cfg.StoreDir, dir) {
		t.Errorf("JetStream stores under %q, want %q", cfg.StoreDir, dir)
	}

	// A client connects in-process and gets acknowledgements.
	nc, err := nats.Connect(srv.ClientURL(), srv.ConnectOption())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "S", Subjects: []string{"s"}, Storage: nats.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("s", []byte("x")); err != nil {
		t.Fatalf("publish: %v", err)
	}
}
