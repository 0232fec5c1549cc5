package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// NewSyncdExternalNATS is NewSyncd for a syncd that uses the NATS server
// at natsURL (nats.url) instead of an embedded one.
func NewSyncdExternalNATS(t TB, bin, natsURL, body string) *Syncd {
	t.Helper()
	dir := t.TempDir()
	adminPort := FreePort(t)
	s := &Syncd{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "syncd.hcl"),
		NATSURL:    natsURL,
		AdminURL:   fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		t:          t,
		bin:        bin,
	}
	cfg := fmt.Sprintf("data_dir = %q\nnats  { url = %q }\nadmin { listen = \"127.0.0.1:%d\" }\n%s",
		filepath.Join(dir, "data"), natsURL, adminPort, body)
	if err := os.WriteFile(s.ConfigPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Signal(syscall.SIGCONT)
		s.Kill()
		if t.Failed() {
			logs := s.Logs()
			t.Logf("syncd log (last 30000 of %d bytes):\n%s", len(logs), logs[max(0, len(logs)-30000):])
		}
	})
	return s
}

// Signal sends sig to the running process; SIGSTOP and SIGCONT freeze and
// thaw it. It does nothing if the process is not running.
func (s *Syncd) Signal(sig syscall.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	return s.cmd.Process.Signal(sig)
}
