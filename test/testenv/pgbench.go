package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Pgbench runs pgbench with args (give it a DSN) until it ends or ctx is
// done. It returns pgbench's error with its output.
func (p *Postgres) Pgbench(ctx context.Context, args ...string) error {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		bin = filepath.Join(p.bin, "pgbench")
	}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgbench %v: %w\n%s", args, err, out)
	}
	return nil
}
