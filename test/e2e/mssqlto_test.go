package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/tdsfake"
	"github.com/syncd-dev/syncd/test/testenv"
)

// toMSUnrepresentable are PostgreSQL and MariaDB columns no SQL Server
// column that create_tables makes holds (docs/type-mapping.md): each
// stops its scope at start with an error naming the type and the fix.
var toMSUnrepresentable = []struct {
	engine, table, ddl, want string
}{
	{"postgres", "wide", "CREATE TABLE wide (id integer PRIMARY KEY, v numeric(50,2))", "numeric(50,2) does not fit SQL Server's DECIMAL"},
	{"postgres", "jkey", "CREATE TABLE jkey (id jsonb PRIMARY KEY)", "jsonb cannot be a key column at SQL Server"},
	{"mysql", "wide", "CREATE TABLE wide (id int PRIMARY KEY, v decimal(65,30))", "decimal(65,30) does not fit SQL Server's DECIMAL"},
}

// toMSUnrepresentableConfig has a scope per toMSUnrepresentable table,
// bad<i>, from PostgreSQL source app (pgDSN, schema public) or MariaDB
// source shop (myDSN, database shop) into SQL Server target mssql at
// dsn, which creates its tables.
func toMSUnrepresentableConfig(pgDSN, myDSN, dsn string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
source "postgres" "app" { dsn = %q }
source "mysql" "shop" {
  dsn       = %q
  server_id = 4001
}
target "sqlserver" "mssql" {
  dsn           = %q
  create_tables = true
}
`, pgDSN, myDSN, dsn)
	for i, u := range toMSUnrepresentable {
		source, schema := "app", "public"
		if u.engine == "mysql" {
			source, schema = "shop", "shop"
		}
		fmt.Fprintf(&b, `scope "bad%d" {
  source  = %q
  targets = ["mssql"]
  table "%s.%s" { target = "dbo.bad%d" }
}
`, i, source, schema, u.table, i)
	}
	return b.String()
}

// startToMSUnrepresentable creates toMSUnrepresentable's tables at a new
// PostgreSQL and MariaDB and returns their DSNs.
func startToMSUnrepresentable(t *testing.T) (pgDSN, myDSN string) {
	pg := testenv.StartPostgres(t)
	pgDSN = pg.CreateDB(t, "app")
	my := testenv.StartMariaDB(t)
	myDSN = my.CreateDB(t, "shop")
	for _, u := range toMSUnrepresentable {
		if u.engine == "postgres" {
			pg.Exec(t, "app", u.ddl)
		} else {
			my.Exec(t, "shop", u.ddl)
		}
	}
	return pgDSN, myDSN
}

// checkToMSUnrepresentable waits until /readyz reports each scope of
// toMSUnrepresentableConfig stopped with its type's error and the fix.
func checkToMSUnrepresentable(t *testing.T, d *testenv.Syncd) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		code, body := getStatus(t, d.AdminURL+"/readyz")
		for i, u := range toMSUnrepresentable {
			at := strings.Index(body, fmt.Sprintf(`"scope/bad%d/target/mssql"`, i))
			if code == 200 || at < 0 {
				return fmt.Errorf("/readyz %d has no cause for scope bad%d (%s): %s", code, i, u.ddl, body)
			}
			cause, _, _ := strings.Cut(body[at:], "}")
			if !strings.Contains(cause, `"apply_failed"`) || !strings.Contains(cause, u.want) || !strings.Contains(cause, "create_tables = false") && !strings.Contains(cause, "key column") {
				return fmt.Errorf("/readyz cause for %s: %s; want apply_failed, %q and the fix", u.ddl, cause, u.want)
			}
		}
		return nil
	})
}

// TestToSQLServerUnrepresentableOverTDS (layer 3): PostgreSQL and
// MariaDB sources whose columns no SQL Server column holds, into a SQL
// Server target on the TDS wire FAKE's Store, which holds no tables:
// each scope stops at start with the type's error and its fix, before
// any CREATE TABLE. That the error comes before SQL Server would be
// asked is what this proves; that SQL Server refuses DECIMAL(50,2) is
// Microsoft's word (precision at most 38).
func TestToSQLServerUnrepresentableOverTDS(t *testing.T) {
	f := tdsfake.New(t, nil)
	f.Handler = tdsfake.NewStore()
	pgDSN, myDSN := startToMSUnrepresentable(t)
	d := newDaemon(t, toMSUnrepresentableConfig(pgDSN, myDSN, f.DSN()))
	d.StartAlive()
	checkToMSUnrepresentable(t, d)
	for _, s := range f.Statements() {
		if strings.HasPrefix(s, "CREATE TABLE") && strings.Contains(s, "[bad") {
			t.Errorf("the target created a table whose type it cannot hold:\n%s", s)
		}
	}
}
