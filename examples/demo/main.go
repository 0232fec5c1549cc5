// Command demo shows syncd at work on throwaway local servers: it starts a
// PostgreSQL cluster, runs syncd with its embedded NATS server, writes
// rows, and prints the change events as a subscriber receives them.
// Everything it starts is stopped and removed at the end.
//
//	make demo
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

const schema = `
CREATE TABLE product (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), region text);
ALTER TABLE product REPLICA IDENTITY FULL;
CREATE TABLE orders (id bigserial PRIMARY KEY, product_id int, region text, qty int, placed_at timestamptz DEFAULT now());`

const scopesHCL = `
source "postgres" "shop" { dsn = %q }

# Every product that costs something, with three of its columns.
scope "catalog" {
  source = "shop"
  table "public.product" {
    columns = ["id", "name", "price"]
    where   = "price > 0"
  }
}

# Everything about one region, from a template.
template "by_region" {
  params = ["region"]
  table "public.product" { where = "region = :region" }
  table "public.orders"  { where = "region = :region" }
}
scope "eu" {
  source   = "shop"
  template = "by_region"
  params   = { region = "eu" }
}
`

var workload = []struct{ say, sql string }{
	{"insert three products", `INSERT INTO product VALUES (1, 'apple', 1.50, 'eu'), (2, 'pear', 0, 'eu'), (3, 'plum', 2.00, 'us')`},
	{"two orders", `INSERT INTO orders (product_id, region, qty) VALUES (1, 'eu', 3), (3, 'us', 1)`},
	{"give the pear a price: it enters catalog", `UPDATE product SET price = 0.80 WHERE id = 2`},
	{"move the apple to the US: it leaves eu", `UPDATE product SET region = 'us' WHERE id = 1`},
	{"delete the plum", `DELETE FROM product WHERE id = 3`},
}

func main() {
	p := testenv.NewProgram()
	defer p.Close()
	bin, err := testenv.SyncdBinary()
	if err != nil {
		p.Fatal(err)
	}

	say("starting a throwaway PostgreSQL with wal_level=logical")
	pg := testenv.StartPostgres(p)
	dsn := pg.CreateDB(p, "shop")
	pg.Exec(p, "shop", schema)

	say("starting syncd with the embedded NATS server")
	d := testenv.NewSyncd(p, bin, fmt.Sprintf(scopesHCL, dsn))
	d.Start()
	fmt.Printf("    config:      %s\n    subscribers: %s (try: %s tail --nats %s eu)\n    admin:       %s/scopes\n\n", d.ConfigPath, d.NATSURL, bin, d.NATSURL, d.AdminURL)

	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		p.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, w := range workload {
		say(w.say)
		fmt.Printf("    %s\n", w.sql)
		if _, err := conn.Exec(context.Background(), w.sql); err != nil {
			p.Fatal(err)
		}
	}
	fmt.Println()
	for _, scope := range []string{"catalog", "eu"} {
		say("the " + scope + " stream, as a subscriber sees it")
		if err := show(d.NATSURL, scope); err != nil {
			p.Fatal(err)
		}
		fmt.Println()
	}
	say("syncd's view (" + d.AdminURL + "/scopes)")
	showScopes(d.AdminURL)

	say("stopping syncd: it drains, confirms its position to PostgreSQL, and exits")
	if code := d.Stop(); code != 0 {
		p.Fatalf("syncd exited with %d:\n%s", code, d.Logs())
	}
	say("done; the servers and their files are removed")
}

func say(s string) { fmt.Printf("==> %s\n", s) }

// show prints a scope's messages until none arrives for a second.
func show(url, scope string) error {
	conn, err := router.Connect(scopes.NATS{URL: url}, hclog.NewNullLogger(), nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	idle := time.AfterFunc(3*time.Second, cancel)
	err = router.Tail(ctx, conn, scope, false, func(body []byte) error {
		idle.Reset(time.Second)
		e, err := router.Decode(body)
		if err != nil {
			return err
		}
		row := e.After
		if row == nil {
			row = e.Before
		}
		fmt.Printf("    %-2s %-12s %-14s %s.%s %s\n", e.Op, e.Scope.Reason, "txn "+e.Txn.ID, e.Source.Schema, e.Source.Table, compact(row))
		return nil
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func compact(row map[string]any) string {
	b, _ := json.Marshal(row)
	return string(b)
}

func showScopes(admin string) {
	resp, err := http.Get(admin + "/scopes")
	if err != nil {
		log.Print(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc struct {
		Sources []struct {
			Name, State string
			Status      struct {
				Confirmed string `json:"confirmed_lsn"`
			}
		}
		Scopes []struct {
			Name   string
			Stream *struct {
				Stream   string
				Messages uint64
			}
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		log.Print(err)
		return
	}
	for _, s := range doc.Sources {
		fmt.Printf("    source %s: %s, confirmed up to %s\n", s.Name, s.State, s.Status.Confirmed)
	}
	for _, s := range doc.Scopes {
		if s.Stream != nil {
			fmt.Printf("    scope %-8s stream %-14s %d messages\n", s.Name, s.Stream.Stream, s.Stream.Messages)
		}
	}
	fmt.Println()
}
