package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/microsoft/go-mssqldb" // the "sqlserver" driver

	"github.com/syncd-dev/syncd/test/tdsfake"
)

// MSSQLDSNVar names the variable that points the real-server tests of
// SQL Server (layer 4, docs/sqlserver.md) at a server: a go-mssqldb URL
// of a login that may CREATE DATABASE. No SQL Server can run where
// syncd's own tests run, so without it those tests skip.
const MSSQLDSNVar = "SYNCD_TEST_MSSQL_DSN"

// MSSQLHowTo is what a skipped real-server test says to do.
const MSSQLHowTo = MSSQLDSNVar + " is not set: no real SQL Server to test against. Run " +
	"`make test-sqlserver SYNCD_TEST_MSSQL_DSN='sqlserver://sa:PASSWORD@HOST:1433'` with a login " +
	"that may CREATE DATABASE (e.g. the sa of a throwaway mcr.microsoft.com/mssql/server container)"

// MSSQLRecordVar names a directory. When it is set with
// SYNCD_TEST_MSSQL_DSN, MSSQLDatabase's DSN reaches the server through a
// recording proxy (tdsfake.Recorder, with encrypt=disable) that saves the
// requests and the server's replies of each test as <test>.json there;
// test/tdsfake's TestReplayTestdata replays those in
// test/tdsfake/testdata/transcripts (layer 3).
const MSSQLRecordVar = "SYNCD_TEST_MSSQL_RECORD"

var mssqlDBs atomic.Int64

// skipper is a TB that can skip, as *testing.T can.
type skipper interface {
	TB
	Skip(args ...any)
	Name() string
}

// RequireMSSQL returns SYNCD_TEST_MSSQL_DSN, or skips the test, saying
// how to run it, when the variable is unset.
func RequireMSSQL(t skipper) string {
	t.Helper()
	dsn := os.Getenv(MSSQLDSNVar)
	if dsn == "" {
		t.Skip(MSSQLHowTo)
	}
	return dsn
}

// MSSQLDatabase creates a database of its own on the server that
// SYNCD_TEST_MSSQL_DSN names, drops it when the test ends, and returns the
// DSN pointing at it. It skips the test, saying how to run it, when the
// variable is unset.
func MSSQLDatabase(t skipper) string {
	t.Helper()
	dsn := RequireMSSQL(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "sqlserver" {
		t.Fatalf("%s must be a sqlserver:// URL: %v", MSSQLDSNVar, err)
	}
	admin, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := fmt.Sprintf("syncd_test_%d_%d_%d", os.Getpid(), time.Now().Unix()%100000, mssqlDBs.Add(1))
	quoted := "[" + strings.ReplaceAll(db, "]", "]]") + "]"
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+quoted); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// SINGLE_USER WITH ROLLBACK IMMEDIATE ends the sessions still in it.
		if _, err := admin.ExecContext(ctx, "ALTER DATABASE "+quoted+" SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE "+quoted); err != nil {
			t.Logf("drop database %s: %v", db, err)
		}
	})
	q := u.Query()
	q.Set("database", db)
	if dir := os.Getenv(MSSQLRecordVar); dir != "" {
		recordMSSQL(t, u, q, dir)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// recordMSSQL points u at a recording proxy to its server, which saves
// the test's transcript in dir when the test ends.
func recordMSSQL(t skipper, u *url.URL, q url.Values, dir string) {
	t.Helper()
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1433")
	}
	rec, err := tdsfake.NewRecorder(host)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".json")
	t.Cleanup(func() {
		rec.Close()
		if err := rec.Save(path); err != nil {
			t.Logf("record: %v", err)
		}
		t.Logf("recorded the server's replies in %s", path)
	})
	u.Host = rec.Addr()
	q.Set("encrypt", "disable") // a connection encrypted throughout cannot be recorded
}
