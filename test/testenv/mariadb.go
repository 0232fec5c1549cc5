package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB is a throwaway MariaDB server writing a row-based binary log
// with full row images and full row metadata, as syncd's binlog capture
// needs.
type MariaDB struct {
	Dir      string // data directory
	Port     int
	ServerID int

	t      TB
	root   string
	args   map[string]string
	cred   *syscall.Credential
	cmd    *exec.Cmd
	exited chan struct{}
}

// MariaDBOption adjusts a server before it starts.
type MariaDBOption func(*MariaDB)

// WithMariaDBOption sets a mariadbd command-line option ("binlog-format",
// "MIXED"), overriding the defaults. An empty value removes the option.
func WithMariaDBOption(name, value string) MariaDBOption {
	return func(m *MariaDB) { m.args[name] = value }
}

// WithServerID sets the server's server_id (default 1).
func WithServerID(id int) MariaDBOption {
	return func(m *MariaDB) { m.ServerID = id }
}

// StartMariaDB initializes a server in a new temporary directory, starts
// it on a free port and stops it when the test ends. The root user has no
// password. Running as root, the server runs as the "mysql" user.
func StartMariaDB(t TB, opts ...MariaDBOption) *MariaDB {
	t.Helper()
	for _, bin := range []string{"mariadb-install-db", "mariadbd"} {
		if _, err := lookMariaDB(bin); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.MkdirTemp("", "syncd-mariadb-")
	if err != nil {
		t.Fatalf("create mariadb dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	m := &MariaDB{
		Dir:      filepath.Join(root, "data"),
		Port:     FreePort(t),
		ServerID: 1,
		t:        t,
		root:     root,
		args: map[string]string{
			"log-bin":                        "mariadb-bin",
			"binlog-format":                  "ROW",
			"binlog-row-image":               "FULL",
			"binlog-row-metadata":            "FULL",
			"bind-address":                   "127.0.0.1",
			"skip-name-resolve":              "",
			"innodb-buffer-pool-size":        "256M",
			"innodb-log-file-size":           "256M",
			"innodb-flush-log-at-trx-commit": "2", // the server is thrown away; syncd's own durability is what tests check
			"sync-binlog":                    "0",
			"max-connections":                "200",
			"character-set-server":           "utf8mb4",
			"collation-server":               "utf8mb4_bin",
			"default-time-zone":              "+00:00",
		},
	}
	for _, o := range opts {
		o(m)
	}
	if os.Geteuid() == 0 {
		if m.cred, err = credentialOf("mysql"); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(root, 0o755); err != nil {
			t.Fatalf("chmod mariadb dir: %v", err)
		}
		os.Chown(root, int(m.cred.Uid), int(m.cred.Gid))
	}
	// Each server has a temporary directory of its own: in the shared
	// /tmp, the bootstraps of servers set up at the same time by tests
	// in parallel have failed on each other's temporary tables.
	tmp := filepath.Join(root, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatalf("create mariadb tmpdir: %v", err)
	}
	if m.cred != nil {
		os.Chown(tmp, int(m.cred.Uid), int(m.cred.Gid))
	}
	install := []string{"--no-defaults", "--datadir=" + m.Dir, "--tmpdir=" + tmp, "--auth-root-authentication-method=normal", "--skip-test-db"}
	if m.cred != nil {
		install = append(install, "--user=mysql")
	}
	bin, _ := lookMariaDB("mariadb-install-db")
	out, err := m.command(bin, install...).CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	m.Start(t)
	t.Cleanup(m.stop)
	return m
}

// DSN returns a go-sql-driver/mysql DSN connecting as root to database db
// ("" for none).
func (m *MariaDB) DSN(db string) string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "tcp"
	c.Addr = fmt.Sprintf("127.0.0.1:%d", m.Port)
	c.DBName = db
	c.ParseTime = true
	c.InterpolateParams = true
	return c.FormatDSN()
}

// CreateDB creates a database and returns its DSN.
func (m *MariaDB) CreateDB(t TB, name string) string {
	t.Helper()
	m.Exec(t, "", "CREATE DATABASE `"+strings.ReplaceAll(name, "`", "``")+"`")
	return m.DSN(name)
}

// Exec runs SQL statements in database db ("" for none) on one
// connection and fails the test on error.
func (m *MariaDB) Exec(t TB, db string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := sql.Open("mysql", m.DSN(db))
	if err != nil {
		t.Fatalf("open %s: %v", db, err)
	}
	defer d.Close()
	conn, err := d.Conn(ctx)
	if err != nil {
		t.Fatalf("connect to mariadb: %v", err)
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// PurgeBinaryLogsTo purges the binlog files before file and waits until
// the server has really removed them: it keeps a file that a dump thread
// still has open, and a binlog reader's dump thread may outlive its
// connection for a moment.
func (m *MariaDB) PurgeBinaryLogsTo(t TB, file string) {
	t.Helper()
	d, err := sql.Open("mysql", m.DSN(""))
	if err != nil {
		t.Fatalf("open mariadb: %v", err)
	}
	defer d.Close()
	Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if _, err := d.Exec("PURGE BINARY LOGS TO '" + strings.ReplaceAll(file, "'", "''") + "'"); err != nil {
			return err
		}
		var first string
		var size any
		if err := d.QueryRow("SHOW BINARY LOGS").Scan(&first, &size); err != nil {
			return err
		}
		if first != file {
			return fmt.Errorf("first binlog file is %s, want %s", first, file)
		}
		return nil
	})
}

// Start starts the server and waits until it accepts connections.
func (m *MariaDB) Start(t TB) {
	t.Helper()
	bin, _ := lookMariaDB("mariadbd")
	args := []string{
		"--no-defaults",
		"--datadir=" + m.Dir,
		"--tmpdir=" + filepath.Join(m.root, "tmp"),
		"--port=" + strconv.Itoa(m.Port),
		"--socket=" + filepath.Join(m.root, "mariadb.sock"),
		"--pid-file=" + filepath.Join(m.root, "mariadb.pid"),
		"--log-error=" + m.logPath(),
		"--server-id=" + strconv.Itoa(m.ServerID),
	}
	if m.cred != nil {
		args = append(args, "--user=mysql")
	}
	for k, v := range m.args {
		switch {
		case v == "" && k == "skip-name-resolve":
			args = append(args, "--"+k)
		case v != "":
			args = append(args, "--"+k+"="+v)
		}
	}
	m.cmd = m.command(bin, args...)
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start mariadbd: %v", err)
	}
	exited := make(chan struct{})
	m.exited = exited
	go func(cmd *exec.Cmd) { cmd.Wait(); close(exited) }(m.cmd)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := poll(ctx, 50*time.Millisecond, exited, func() error {
		d, err := sql.Open("mysql", m.DSN(""))
		if err != nil {
			return err
		}
		defer d.Close()
		return d.PingContext(ctx)
	})
	if err != nil {
		t.Fatalf("mariadb did not start: %v\n%s", err, m.logTail())
	}
}

// Stop shuts the server down and waits for it to exit.
func (m *MariaDB) Stop(t TB) {
	t.Helper()
	m.stop()
}

func (m *MariaDB) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	select {
	case <-m.exited:
		return
	default:
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(60 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
	}
	if m.t.Failed() {
		m.t.Logf("mariadb log (tail):\n%s", m.logTail())
	}
}

func (m *MariaDB) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// mariadbd drops privileges itself (--user=mysql); it must start as
	// root to do so, so no credential here.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

func (m *MariaDB) logPath() string { return filepath.Join(m.root, "mariadb.err") }

func (m *MariaDB) logTail() string {
	b, _ := os.ReadFile(m.logPath())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// lookMariaDB finds a MariaDB program on PATH or in /usr/sbin.
func lookMariaDB(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if p := filepath.Join("/usr/sbin", name); fileExists(p) {
		return p, nil
	}
	return "", fmt.Errorf("MariaDB server program %s not found; install it with: sudo apt-get install -y mariadb-server", name)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
