package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/syncd-dev/syncd/test/testenv"
)

// The secrets of TestSecretsStayOut: a password that works, one that
// sources and targets are configured with by mistake, and the admin
// server's bearer token. None may appear anywhere.
const (
	password      = "s3cr3t-Xq7-pw"
	wrongPassword = "wr0ng-Kv4-pw"
	adminToken    = "t0ken-Jw2-adm"
)

// TestSecretsStayOut runs syncd at trace level with a NATS URL and DSNs
// that carry passwords: a NATS server, a MariaDB source and a PostgreSQL
// target that all check passwords (SCRAM for PostgreSQL), plus a source
// and a target of each engine configured with the wrong password, and an
// admin server that requires a bearer token. It provokes the errors
// operators see (refused logins at capture and apply, NATS and the source
// restarting under syncd, a row the target rejects), then reads the daemon's log, /readyz, /scopes,
// /metrics and the output of `syncd validate` and `syncd scopes` (which
// sends the token from the config): no password and no token may appear.
func TestSecretsStayOut(t *testing.T) {
	my := testenv.StartMariaDB(t)
	pg := testenv.StartPostgres(t)
	ns := testenv.StartNATS(t, testenv.WithUser("syncd", password))
	my.CreateDB(t, "shop")
	my.Exec(t, "shop", `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`,
		`INSERT INTO items VALUES (1, 1), (2, -1), (3, 1)`)
	for _, host := range []string{"localhost", "127.0.0.1"} {
		my.Exec(t, "", fmt.Sprintf(`CREATE USER 'syncd'@'%s' IDENTIFIED BY '%s'`, host, password),
			fmt.Sprintf(`GRANT ALL ON *.* TO 'syncd'@'%s'`, host))
	}
	pg.CreateDB(t, "replica")
	pg.Exec(t, "replica",
		fmt.Sprintf(`CREATE ROLE syncd LOGIN SUPERUSER PASSWORD '%s'`, password),
		`CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))`)
	requirePasswords(t, pg)

	natsURL := strings.Replace(ns.URL, "nats://", "nats://syncd:"+password+"@", 1)
	d := testenv.NewSyncdExternalNATS(t, syncdBin, natsURL, fmt.Sprintf(`
source "mysql" "shop" {
  dsn       = %q
  server_id = 4001
}
source "mysql" "wrongmy" {
  dsn       = %q
  server_id = 4002
}
source "postgres" "wrongpg" { dsn = %q }
target "postgres" "replica" { dsn = %q }
target "postgres" "wrongpg" { dsn = %q }
target "mysql" "wrongmy" { dsn = %q }
scope "items" {
  source         = "shop"
  targets        = ["replica", "wrongpg", "wrongmy"]
  on_apply_error = "dlq"
  table "shop.items" { target = "public.items" }
}
scope "my" {
  source = "wrongmy"
  table "shop.items" {}
}
scope "pg" {
  source = "wrongpg"
  table "public.items" {}
}`, mysqlDSN(t, my, "shop", password), mysqlDSN(t, my, "shop", wrongPassword),
		fmt.Sprintf("host=127.0.0.1 port=%d dbname=replica user=syncd password=%s sslmode=disable", pg.Port, wrongPassword),
		pgDSN(pg, "replica", password), pgDSN(pg, "replica", wrongPassword), mysqlDSN(t, my, "shop", wrongPassword)))
	tokenFile := filepath.Join(d.Dir, "admin.token")
	writeFile(t, tokenFile, adminToken+"\n")
	setBlock(t, d, "admin", fmt.Sprintf("admin {\n  listen     = %q\n  token_file = %q\n}", strings.TrimPrefix(d.AdminURL, "http://"), tokenFile))
	d.LogLevel = "trace"
	d.StartAlive()
	for _, component := range []string{"source/wrongmy", "source/wrongpg"} {
		waitNotReady(t, d, component, "source_disconnected")
	}
	for _, component := range []string{"scope/items/target/wrongpg", "scope/items/target/wrongmy"} {
		waitNotReady(t, d, component, "target_unavailable")
	}
	waitPGCount(t, pg.DSN("replica"), "items", 2) // row 2 is parked

	ns.Restart(t) // syncd logs the disconnect and the reconnect, naming the server
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		if !strings.Contains(d.Logs(), "reconnected to nats") {
			return fmt.Errorf("syncd has not reconnected to nats")
		}
		return nil
	})
	my.Stop(t)
	waitNotReady(t, d, "source/shop", "source_disconnected")
	my.Start(t)
	my.Exec(t, "shop", `INSERT INTO items VALUES (4, 1)`)
	waitPGCount(t, pg.DSN("replica"), "items", 3)

	if code, _ := getStatus(t, d.AdminURL+"/scopes"); code != http.StatusUnauthorized {
		t.Errorf("/scopes without the token: %d, want 401", code)
	}
	everything := map[string]string{
		"/readyz":  getAny(t, d.AdminURL+"/readyz"),
		"/scopes":  getWithToken(t, d.AdminURL+"/scopes"),
		"/metrics": getWithToken(t, d.AdminURL+"/metrics"),
	}
	_, everything["syncd validate"] = runSyncd(t, "validate", "--config", d.ConfigPath)
	code, out := runSyncd(t, "scopes", "--config", d.ConfigPath)
	if code != 0 || !strings.Contains(out, `"name": "items"`) {
		t.Errorf("syncd scopes: exit %d:\n%s", code, out)
	}
	everything["syncd scopes"] = out
	everything["log"] = d.Logs()
	for what, text := range everything {
		for _, secret := range []string{password, wrongPassword, adminToken} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s shows a secret: ...%s...", what, text[max(0, i-200):min(len(text), i+100)])
			}
		}
	}
	for _, code := range []string{"28P01", "1045"} { // refused logins
		if !strings.Contains(everything["/readyz"], code) || !strings.Contains(everything["log"], code) {
			t.Errorf("/readyz and the log do not both show error %s; the test did not provoke what it checks", code)
		}
	}
}

// requirePasswords makes pg check the password of role syncd over TCP,
// as a production server would; testenv trusts every local connection.
func requirePasswords(t *testing.T, pg *testenv.Postgres) {
	t.Helper()
	path := filepath.Join(pg.Dir, "pg_hba.conf")
	hba := "host all syncd 127.0.0.1/32 scram-sha-256\nhost all syncd ::1/128 scram-sha-256\n" + readFile(t, path)
	writeFile(t, path, hba)
	pg.Exec(t, "postgres", `SELECT pg_reload_conf()`)
}

// pgDSN is a URL connecting to pg's database db as role syncd.
func pgDSN(pg *testenv.Postgres, db, pw string) string {
	return fmt.Sprintf("postgres://syncd:%s@127.0.0.1:%d/%s?sslmode=disable", url.QueryEscape(pw), pg.Port, db)
}

// mysqlDSN is a DSN connecting to my's database db as user syncd.
func mysqlDSN(t *testing.T, my *testenv.MariaDB, db, pw string) string {
	t.Helper()
	c, err := mysql.ParseDSN(my.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	c.User, c.Passwd = "syncd", pw
	return c.FormatDSN()
}

// getWithToken returns the body of url, which must answer 200 to a
// request with adminToken.
func getWithToken(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s with the token: %d %s", url, resp.StatusCode, body)
	}
	return string(body)
}

// getAny returns the body of url whatever its status.
func getAny(t *testing.T, url string) string {
	t.Helper()
	_, body := getStatus(t, url)
	return body
}
