package tdsfake

// A cross-check of the fake's framing with an independent TDS client:
// FreeTDS's tsql (Debian package freetds-bin, which .ci/deps installs),
// not go-mssqldb, whose login test the fake's bytes were modelled on. It
// proves the prelogin, LOGIN7 answer, SQL batch, COLMETADATA, ROW (UTF-16
// text, 64-bit integers, NULLs), DONE counts and ERROR tokens read as
// FreeTDS reads them. It does not cover RPCs or transaction manager
// requests, which tsql does not send.

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tsql runs FreeTDS's tsql against f (TDS 7.4, no TLS) with input on
// stdin, skipping the test if tsql is not installed.
func tsql(t *testing.T, f *Server, input string) string {
	t.Helper()
	if _, err := exec.LookPath("tsql"); err != nil {
		t.Skip("FreeTDS tsql is not installed (apt-get install freetds-bin; make deps does): the fake's framing is not cross-checked")
	}
	host, port, _ := strings.Cut(f.ln.Addr().String(), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tsql", "-H", host, "-p", port, "-U", "syncd", "-P", "secret", "-D", "erp")
	cmd.Env = append(cmd.Environ(), "TDSVER=7.4", "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("tsql did not finish: %v\n%s", err, out)
	}
	return string(out)
}

// TestTsqlReadsTheFake: tsql logs in, reads a result set with text
// outside ASCII, a 64-bit integer and NULLs, and the row count, then
// reports a server error with its number, severity, state and message.
func TestTsqlReadsTheFake(t *testing.T) {
	f := New(t, map[string]Result{
		"SELECT name, n FROM t\n": {Cols: []Type{NVarchar, Int8}, Rows: [][]any{{"héllo wörld", int64(1) << 40}, {nil, nil}}},
		"SELECT * FROM missing\n": {ErrNo: 208, Msg: "Invalid object name 'missing'."},
	})
	out := tsql(t, f, "SELECT name, n FROM t\ngo\nSELECT * FROM missing\ngo\nexit\n")
	for _, want := range []string{
		"héllo wörld\t1099511627776",
		"NULL\tNULL",
		"(2 rows affected)",
		"Msg 208 (severity 16, state 1) from fake",
		"Invalid object name 'missing'.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tsql's output has no %q:\n%s", want, out)
		}
	}
	if got := f.Statements(); len(got) != 2 {
		t.Errorf("the fake saw %q, want the two batches", got)
	}
}

// TestTsqlLoginRefused: a refused login reaches tsql as error 18456.
func TestTsqlLoginRefused(t *testing.T) {
	f := New(t, nil)
	f.LoginError = 18456
	out := tsql(t, f, "exit\n")
	for _, want := range []string{"Msg 18456", "Login failed for user 'syncd'."} {
		if !strings.Contains(out, want) {
			t.Errorf("tsql's output has no %q:\n%s", want, out)
		}
	}
}
