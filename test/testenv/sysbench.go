package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
)

// Sysbench runs sysbench's OLTP script (oltp_write_only, say) with command
// (prepare, run, cleanup) against database db of the server, as root,
// with extra args such as "--tables=2", "--threads=4", "--time=30". It
// returns sysbench's error with its output.
func (m *MariaDB) Sysbench(ctx context.Context, script, command, db string, args ...string) error {
	bin, err := exec.LookPath("sysbench")
	if err != nil {
		return fmt.Errorf("sysbench not found; install it with: sudo apt-get install -y sysbench")
	}
	all := append([]string{script,
		"--db-driver=mysql",
		"--mysql-host=127.0.0.1",
		"--mysql-port=" + strconv.Itoa(m.Port),
		"--mysql-user=root",
		"--mysql-db=" + db,
	}, args...)
	all = append(all, command)
	out, err := exec.CommandContext(ctx, bin, all...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sysbench %v: %w\n%s", all, err, out)
	}
	return nil
}
