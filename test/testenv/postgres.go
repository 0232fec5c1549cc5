// Package testenv starts the real servers syncd's tests run against:
// throwaway PostgreSQL clusters and in-process NATS JetStream servers, each
// on a free port under its own temporary directory, stopped and removed
// when the test ends.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a throwaway PostgreSQL cluster with wal_level=logical.
type Postgres struct {
	Dir  string // data directory
	Port int

	t        TB
	bin      string
	root     string
	settings map[string]string
	cred     *syscall.Credential
	cmd      *exec.Cmd
	exited   chan struct{}
}

// PostgresOption adjusts a cluster before it starts.
type PostgresOption func(*Postgres)

// WithSetting sets a postgresql.conf parameter, overriding the defaults.
func WithSetting(name, value string) PostgresOption {
	return func(p *Postgres) { p.settings[name] = value }
}

// StartPostgres initializes a cluster in a new temporary directory, starts
// it on a free port and stops it when the test ends. Running as root, the
// server runs as the "postgres" user, since PostgreSQL refuses root.
func StartPostgres(t TB, opts ...PostgresOption) *Postgres {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.MkdirTemp("", "syncd-pg-")
	if err != nil {
		t.Fatalf("create postgres dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	p := &Postgres{
		Dir:  filepath.Join(root, "data"),
		Port: FreePort(t),
		t:    t,
		bin:  bin,
		root: root,
		settings: map[string]string{
			"wal_level":                 "logical",
			"max_wal_senders":           "20",
			"max_replication_slots":     "20",
			"max_connections":           "100",
			"listen_addresses":          "'127.0.0.1'",
			"fsync":                     "off", // the cluster is thrown away; syncd's own durability is what tests check
			"synchronous_commit":        "on",  // logical decoding reads flushed WAL only: off delays it by up to 200ms
			"full_page_writes":          "off",
			"shared_buffers":            "128MB",
			"wal_sender_timeout":        "60s",
			"logging_collector":         "off",
			"log_min_messages":          "warning",
			"max_wal_size":              "2GB",
			"logical_decoding_work_mem": "64MB",
		},
	}
	for _, o := range opts {
		o(p)
	}
	if os.Geteuid() == 0 {
		p.cred, err = credentialOf("postgres")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(root, 0o755); err != nil {
			t.Fatalf("chmod postgres dir: %v", err)
		}
	}
	if err := os.Mkdir(p.Dir, 0o700); err != nil {
		t.Fatalf("create data dir: %v", err)
	}
	p.chown(p.Dir)
	p.run(t, "initdb", "-D", p.Dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	p.writeConf(t)
	p.Start(t)
	t.Cleanup(p.stop)
	return p
}

// DSN returns a URL connecting as the superuser to database db.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// CreateDB creates a database and returns its DSN.
func (p *Postgres) CreateDB(t TB, name string) string {
	t.Helper()
	p.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return p.DSN(name)
}

// Exec runs SQL statements in database db and fails the test on error.
func (p *Postgres) Exec(t TB, db string, sql ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(db))
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	defer conn.Close(context.Background())
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// Start starts the server and waits until it accepts connections.
func (p *Postgres) Start(t TB) {
	t.Helper()
	p.cmd = p.command("postgres", "-D", p.Dir)
	logf, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("open postgres log: %v", err)
	}
	defer logf.Close()
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func(cmd *exec.Cmd) { cmd.Wait(); close(exited) }(p.cmd)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = poll(ctx, 50*time.Millisecond, exited, func() error {
		conn, err := pgx.Connect(ctx, p.DSN("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
	if err != nil {
		t.Fatalf("postgres did not start: %v\n%s", err, p.logTail())
	}
}

// Stop shuts the server down (fast shutdown) and waits for it to exit.
func (p *Postgres) Stop(t TB) {
	t.Helper()
	p.stop()
}

func (p *Postgres) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	if p.t.Failed() {
		p.t.Logf("postgres log (tail):\n%s", p.logTail())
	}
}

func (p *Postgres) writeConf(t TB) {
	t.Helper()
	s := maps.Clone(p.settings)
	s["port"] = strconv.Itoa(p.Port)
	s["unix_socket_directories"] = "'" + p.Dir + "'"
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(s)) {
		fmt.Fprintf(&b, "%s = %s\n", k, s[k])
	}
	path := filepath.Join(p.Dir, "postgresql.auto.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("write postgresql.auto.conf: %v", err)
	}
	p.chown(path)
}

func (p *Postgres) run(t TB, name string, args ...string) {
	t.Helper()
	out, err := p.command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

func (p *Postgres) chown(path string) {
	if p.cred != nil {
		os.Chown(path, int(p.cred.Uid), int(p.cred.Gid))
	}
}

func (p *Postgres) logPath() string { return filepath.Join(p.root, "postgres.log") }

func (p *Postgres) logTail() string {
	b, _ := os.ReadFile(p.logPath())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// postgresBinDir finds the server binaries (initdb, postgres).
func postgresBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found; install them with: sudo apt-get install -y postgresql")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}
