package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

const mappingKey = "0123456789abcdef-test-key"

// mappingScopes maps customers(id, full_name, email, ssn) to
// clients(id, first_name, last_name, email_address, ssn_hash) at a
// PostgreSQL and a MariaDB target; first is the expression of first_name.
// Scopes parker and stopper map accounts with a transform that fails on
// a one-word name.
func mappingScopes(keyFile, first string) string {
	return fmt.Sprintf(`
scope "crm" {
  source  = "app"
  targets = ["replica", "maria"]
  table "public.customers" {
    target = "crm.clients"
    mapping {
      drop     = ["full_name", "ssn"]
      hash_key = file(%q)
      column "first_name" { expr = %q }
      column "last_name" {
        expr = "split(full_name, ' ')[1]"
        type = "varchar(100)"
      }
      column "email_address" { from = "email" }
      column "ssn_hash" { expr = "hmac_sha256(ssn)" }
    }
  }
}
`, keyFile, first) + failingScope("parker", "dlq", "acc_dlq") + failingScope("stopper", "stop", "acc_stop")
}

// failingScope maps accounts into table target with a transform that
// fails on a one-word name, and handles that as onError says.
func failingScope(name, onError, target string) string {
	return fmt.Sprintf(`
scope %q {
  source         = "app"
  targets        = ["replica"]
  snapshot       = "never"
  on_apply_error = %q
  table "public.accounts" {
    target = "public.%s"
    mapping {
      column "surname" { expr = "split(name, ' ')[1]" }
    }
  }
}
`, name, onError, target)
}

// TestMapping replicates customers through a mapping into PostgreSQL
// and MariaDB (issue 21, tests 1 to 3): the initial snapshot, inserts,
// updates (of full_name, which feeds two target columns), deletes and a
// key change all land mapped, in the columns and types create_tables
// made from the mapping. A row whose transform fails is parked with the
// reason by a dlq scope and stops a stop scope. Changing a transform of
// the running daemon (SIGHUP) re-lands that column in the existing rows;
// a row deleted by hand at the targets is skipped there (counted in
// /scopes), and the scope goes on.
func TestMapping(t *testing.T) {
	pg := testenv.StartPostgres(t)
	maria := testenv.StartMariaDB(t)
	srcDSN, dstDSN := pg.CreateDB(t, "app"), pg.CreateDB(t, "replica")
	mariaDSN := maria.CreateDB(t, "syncd")
	pg.Exec(t, "app",
		`CREATE TABLE customers (id int PRIMARY KEY, full_name text NOT NULL, email text, ssn text)`,
		`CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL)`,
		`INSERT INTO customers VALUES (1, 'Ada Lovelace', 'ada@example.com', '111-11-1111'), (2, 'Alan Turing', 'alan@example.com', '222-22-2222')`)
	keyFile := filepath.Join(t.TempDir(), "hash.key")
	writeFile(t, keyFile, mappingKey+"\n")
	targets := fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
target "postgres" "replica" {
  dsn           = %q
  create_tables = true
}
target "mysql" "maria" {
  dsn           = %q
  create_tables = true
}`, srcDSN, dstDSN, mariaDSN)
	first := "split(full_name, ' ')[0]"
	d := newDaemon(t, targets+mappingScopes(keyFile, first))
	d.Start()

	clients := `SELECT id, first_name, last_name, email_address, ssn_hash FROM crm.clients ORDER BY id`
	// want maps the source's customers as the scope does, in Go.
	want := func(upperFirst bool) ([]string, error) {
		rows, err := queryRows("pgx", srcDSN, `SELECT id, full_name, email, ssn FROM customers ORDER BY id`)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(rows))
		for i, r := range rows {
			name := strings.Split(r[1], " ")
			if upperFirst {
				name[0] = strings.ToUpper(name[0])
			}
			h := hmac.New(sha256.New, []byte(mappingKey))
			h.Write([]byte(r[3]))
			out[i] = strings.Join([]string{r[0], name[0], name[1], r[2], hex.EncodeToString(h.Sum(nil))}, "|")
		}
		return out, nil
	}
	waitMapped := func(upperFirst bool) {
		t.Helper()
		testenv.Eventually(t, 2*time.Minute, time.Second, func() error {
			w, err := want(upperFirst)
			if err != nil {
				return err
			}
			for _, tg := range []target{{"postgres", "pgx", dstDSN}, {"mariadb", "mysql", maria.DSN("crm")}} {
				got, err := queryRows(tg.driver, tg.dsn, clients)
				if err != nil {
					return fmt.Errorf("%s target: %w", tg.name, err)
				}
				if g := joinRows(got); !slices.Equal(g, w) {
					return fmt.Errorf("%s target holds %q, want %q", tg.name, g, w)
				}
			}
			return nil
		})
	}

	t.Run("snapshot, changes and key change land mapped", func(t *testing.T) {
		waitMapped(false)
		pg.Exec(t, "app",
			`INSERT INTO customers VALUES (3, 'Grace Hopper', 'grace@example.com', '333-33-3333'), (4, 'Edsger Dijkstra', 'ed@example.com', '444-44-4444')`,
			`UPDATE customers SET full_name = 'Ada King' WHERE id = 1`,
			`UPDATE customers SET email = 'turing@example.com' WHERE id = 2`,
			`DELETE FROM customers WHERE id = 3`,
			`UPDATE customers SET id = 40 WHERE id = 4`)
		waitMapped(false)
		// The stream carries rows as the targets store them: the social
		// security numbers were hashed before they left the source side.
		stream := openStream(t, d, "SYNCD_CRM")
		for _, op := range []string{"r", "u"} {
			m, err := stream.GetLastMsgForSubject(context.Background(), "syncd.crm.app.public.customers."+op)
			if err != nil {
				t.Fatalf("read the last %s message: %v", op, err)
			}
			if body := string(m.Data); !strings.Contains(body, `"ssn_hash"`) || strings.Contains(body, `"ssn"`) || strings.Contains(body, "-44-") || strings.Contains(body, "-22-") {
				t.Errorf("the stream carries %s, want mapped rows without the ssn", body)
			}
		}
	})

	t.Run("create_tables made the mapped columns", func(t *testing.T) {
		pgCols, err := queryRows("pgx", dstDSN, `SELECT column_name, CASE WHEN character_maximum_length IS NULL THEN data_type
			ELSE data_type || '(' || character_maximum_length || ')' END FROM information_schema.columns
			WHERE table_schema = 'crm' AND table_name = 'clients' ORDER BY ordinal_position`)
		if err != nil {
			t.Fatal(err)
		}
		wantPG := []string{"id|integer", "first_name|text", "last_name|character varying(100)", "email_address|text", "ssn_hash|text"}
		if g := joinRows(pgCols); !slices.Equal(g, wantPG) {
			t.Errorf("PostgreSQL columns %q, want %q", g, wantPG)
		}
		myCols, err := queryRows("mysql", maria.DSN("crm"), `SELECT column_name, column_type, column_key FROM information_schema.columns
			WHERE table_schema = 'crm' AND table_name = 'clients' ORDER BY ordinal_position`)
		if err != nil {
			t.Fatal(err)
		}
		wantMy := []string{"id|int(11)|PRI", "first_name|longtext|", "last_name|varchar(100)|", "email_address|longtext|", "ssn_hash|longtext|"}
		if g := joinRows(myCols); !slices.Equal(g, wantMy) {
			t.Errorf("MariaDB columns %q, want %q", g, wantMy)
		}
	})

	t.Run("a failing transform is parked or stops the scope", func(t *testing.T) {
		pg.Exec(t, "app", `INSERT INTO accounts VALUES (1, 'Ann Lee')`, `INSERT INTO accounts VALUES (2, 'Plato')`, `INSERT INTO accounts VALUES (3, 'Bob Ray')`)
		parked := []string{`SELECT id, name, split_part(name, ' ', 2) FROM accounts WHERE id <> 2 ORDER BY id`}
		waitIdentical(t, &replication{srcDSN: srcDSN, dstDSN: dstDSN}, time.Minute, parked,
			[]string{`SELECT id, name, surname FROM acc_dlq ORDER BY id`})
		msg, err := openStream(t, d, "SYNCD_DLQ").GetLastMsgForSubject(context.Background(), "syncd.parker._dlq")
		if err != nil {
			t.Fatalf("read the parked row: %v", err)
		}
		var p struct {
			Reason  string
			Message struct {
				Op    string
				After map[string]any
				Error string
			}
		}
		if err := json.Unmarshal(msg.Data, &p); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.Reason, "surname") || !strings.Contains(p.Reason, "out of range") || p.Message.Op != "c" ||
			p.Message.After != nil || p.Message.Error == "" {
			t.Errorf("parked row %s: want the insert, without its row, with the transform's error as reason", msg.Data)
		}
		testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
			code, body := getStatus(t, d.AdminURL+"/readyz")
			if code != 503 || !strings.Contains(body, `scope/stopper/target/replica`) || !strings.Contains(body, "out of range") {
				return fmt.Errorf("readyz %d %s: want the stopper scope failed on the transform", code, body)
			}
			return nil
		})
		stopped, err := queryRows("pgx", dstDSN, `SELECT id, name, surname FROM acc_stop ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		if g := joinRows(stopped); !slices.Equal(g, []string{"1|Ann Lee|Lee"}) {
			t.Errorf("stopped scope applied %q, want only the row before the failing one", g)
		}
	})

	t.Run("a changed transform re-lands its column", func(t *testing.T) {
		tgs := []target{{"postgres", "pgx", dstDSN}, {"mariadb", "mysql", maria.DSN("crm")}}
		// A column the change does not touch, edited by hand at the
		// targets: re-landing whole rows would put the source's back.
		// A row deleted by hand at the targets: its re-land is skipped
		// and counted, neither parked nor stopping the scope.
		for _, tg := range tgs {
			execSQL(t, tg.driver, tg.dsn, `UPDATE crm.clients SET email_address = 'by-hand' WHERE id = 2`)
			execSQL(t, tg.driver, tg.dsn, `DELETE FROM crm.clients WHERE id = 40`)
		}
		before, err := queryRows("pgx", dstDSN, `SELECT id, last_name, email_address, ssn_hash FROM crm.clients ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		d.Rewrite(targets + mappingScopes(keyFile, "upper(split(full_name, ' ')[0])"))
		if err := d.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		firstNames := `SELECT id, first_name FROM crm.clients ORDER BY id`
		testenv.Eventually(t, 2*time.Minute, time.Second, func() error {
			want, err := queryRows("pgx", srcDSN, `SELECT id, upper(split_part(full_name, ' ', 1)) FROM customers WHERE id <> 40 ORDER BY id`)
			if err != nil {
				return err
			}
			for _, tg := range tgs {
				got, err := queryRows(tg.driver, tg.dsn, firstNames)
				if err != nil {
					return fmt.Errorf("%s target: %w", tg.name, err)
				}
				if g, w := joinRows(got), joinRows(want); !slices.Equal(g, w) {
					return fmt.Errorf("%s target first names %q, want %q", tg.name, g, w)
				}
			}
			return nil
		})
		for _, tg := range tgs {
			after, err := queryRows(tg.driver, tg.dsn, `SELECT id, last_name, email_address, ssn_hash FROM crm.clients ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(joinRows(before), joinRows(after)) {
				t.Errorf("%s target: the other columns changed: %q, then %q", tg.name, joinRows(before), joinRows(after))
			}
			execSQL(t, tg.driver, tg.dsn, `UPDATE crm.clients SET email_address = 'turing@example.com' WHERE id = 2`)
		}
		testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
			if n := strings.Count(get(t, d.AdminURL+"/scopes"), `"reland_rows_skipped": 1`); n != len(tgs) {
				return fmt.Errorf("%d targets report one re-landed row skipped, want %d", n, len(tgs))
			}
			return nil
		})
		pg.Exec(t, "app", `UPDATE customers SET email = email WHERE id = 40`) // a whole row: puts it back
		waitMapped(true)
		pg.Exec(t, "app", `INSERT INTO customers VALUES (5, 'Barbara Liskov', 'bl@example.com', '555-55-5555')`)
		waitMapped(true)
	})
}

// TestMappingMySQLSource maps a MariaDB table into MariaDB and PostgreSQL
// targets: computed columns get the types create_tables infers from the
// expressions for a MySQL source (longtext, double, bigint, and tinyint
// for a bool, published as 0 or 1), in the initial snapshot and in changes.
func TestMappingMySQLSource(t *testing.T) {
	c := newCrossEngine(t, "shop", func(c *crossEngine) {
		c.src.Exec(t, "shop", `CREATE TABLE people (id int PRIMARY KEY, name varchar(50), qty int, price decimal(10,2))`,
			`INSERT INTO people VALUES (1, 'ada', 3, 2.50)`)
	}, `
scope "people" {
  source  = "shop"
  targets = ["copy", "pgcopy"]
  table "shop.people" {
    target = "shop.people_m"
    mapping {
      drop = ["price"]
      column "name_uc" { expr = "upper(name)" }
      column "total" { expr = "float(price) * qty" }
      column "many" { expr = "qty > 2" }
      column "tens" { expr = "qty * 10" }
    }
  }
}`)
	c.d.Start()
	c.src.Exec(t, "shop", `INSERT INTO people VALUES (2, 'bob', 1, 4.00)`, `UPDATE people SET qty = 5 WHERE id = 2`)
	// The source computes what the mapping does, as text both engines print alike.
	src := `SELECT id, name, qty, upper(name), CAST(price * qty AS double), qty > 2, qty * 10 FROM shop.people ORDER BY id`
	dst := `SELECT id, name, qty, name_uc, total, many, tens FROM shop.people_m ORDER BY id`
	testenv.Eventually(t, time.Minute, time.Second, func() error { return c.sameRows(src, dst) })

	wantTypes := map[string][]string{
		"mariadb":  {"id|int(11)", "name|varchar(50)", "qty|int(11)", "name_uc|longtext", "total|double", "many|tinyint(4)", "tens|bigint(20)"},
		"postgres": {"id|integer", "name|character varying", "qty|integer", "name_uc|text", "total|double precision", "many|smallint", "tens|bigint"},
	}
	for _, tg := range c.targets() {
		q := `SELECT column_name, column_type FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = 'people_m' ORDER BY ordinal_position`
		if tg.name == "postgres" {
			q = `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = 'people_m' ORDER BY ordinal_position`
		}
		got, err := queryRows(tg.driver, tg.dsn, q)
		if err != nil {
			t.Fatal(err)
		}
		if g := joinRows(got); !slices.Equal(g, wantTypes[tg.name]) {
			t.Errorf("%s target columns %q, want %q", tg.name, g, wantTypes[tg.name])
		}
	}
}
