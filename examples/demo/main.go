// Command demo shows syncd's whole job on throwaway local servers: it
// starts a source and a target PostgreSQL, runs syncd with its embedded
// NATS server, and shows rows reaching the target, first by an initial
// snapshot, then change by change, with the lag. Everything it starts is
// stopped and removed at the end.
//
//	make demo
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/test/testenv"
)

const schema = `
CREATE TABLE product (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), region text);
ALTER TABLE product REPLICA IDENTITY FULL;
INSERT INTO product VALUES (1, 'apple', 1.50, 'eu'), (2, 'pear', 0, 'eu'), (3, 'plum', 2.00, 'us');`

const config = `
source "postgres" "shop" { dsn = %q }

target "postgres" "replica" {
  dsn           = %q
  create_tables = true   # create missing target tables from the source's
}

# Products that cost something, three columns of them, into catalog.product.
scope "catalog" {
  source  = "shop"
  targets = ["replica"]
  table "public.product" {
    columns = ["id", "name", "price"]
    where   = "price > 0"
    target  = "catalog.product"
  }
}

# The European products, all columns, into eu.product.
scope "eu" {
  source  = "shop"
  targets = ["replica"]
  table "public.product" {
    where  = "region = 'eu'"
    target = "eu.product"
  }
}
`

var workload = []struct{ say, sql string }{
	{"a new product", `INSERT INTO product VALUES (4, 'fig', 3.20, 'eu')`},
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
	say("starting a source and a target PostgreSQL (throwaway, wal_level=logical)")
	src, dst := testenv.StartPostgres(p), testenv.StartPostgres(p)
	srcDSN, dstDSN := src.CreateDB(p, "shop"), dst.CreateDB(p, "replica")
	src.Exec(p, "shop", schema)
	fmt.Println("    the source has three products already")

	say("starting syncd with its embedded NATS server")
	d := testenv.NewSyncd(p, bin, fmt.Sprintf(config, srcDSN, dstDSN))
	d.Start()
	fmt.Printf("    config %s\n    status %s/scopes, metrics %s/metrics\n    subscribers %s (try: %s tail --nats %s eu)\n",
		d.ConfigPath, d.AdminURL, d.AdminURL, d.NATSURL, bin, d.NATSURL)

	target, err := pgx.Connect(context.Background(), dstDSN)
	if err != nil {
		p.Fatal(err)
	}
	defer target.Close(context.Background())
	say("the initial snapshot copied the existing rows to the target")
	show(p, target, d.AdminURL, 2, 2)

	source, err := pgx.Connect(context.Background(), srcDSN)
	if err != nil {
		p.Fatal(err)
	}
	defer source.Close(context.Background())
	want := [][2]int{{3, 3}, {4, 3}, {4, 2}, {3, 2}} // rows in catalog and eu after each step
	for i, w := range workload {
		say(w.say + ":  " + w.sql)
		if _, err := source.Exec(context.Background(), w.sql); err != nil {
			p.Fatal(err)
		}
		show(p, target, d.AdminURL, want[i][0], want[i][1])
	}

	say("stopping syncd: it drains, confirms its position to PostgreSQL, and exits")
	if code := d.Stop(); code != 0 {
		p.Fatalf("syncd exited with %d:\n%s", code, d.Logs())
	}
	say("done; the servers and their files are removed")
}

func say(s string) { fmt.Printf("\n==> %s\n", s) }

// show waits until the target tables hold the expected row counts, then
// prints them and each scope's lag.
func show(p *testenv.Program, target *pgx.Conn, admin string, catalog, eu int) {
	ctx := context.Background()
	testenv.Eventually(p, 30*time.Second, 20*time.Millisecond, func() error {
		if c, e := count(ctx, target, "catalog.product"), count(ctx, target, "eu.product"); c != catalog || e != eu {
			return fmt.Errorf("target has %d catalog and %d eu products, want %d and %d", c, e, catalog, eu)
		}
		return nil
	})
	for _, q := range []string{
		`SELECT 'catalog.product', string_agg(format('%s %s %s', id, name, price), ' | ' ORDER BY id) FROM catalog.product`,
		`SELECT 'eu.product     ', string_agg(format('%s %s %s %s', id, name, price, region), ' | ' ORDER BY id) FROM eu.product`,
	} {
		var table, rows string
		if err := target.QueryRow(ctx, q).Scan(&table, &rows); err != nil {
			p.Fatal(err)
		}
		fmt.Printf("    target %s  %s\n", table, rows)
	}
	fmt.Printf("    %s\n", lags(admin))
}

func count(ctx context.Context, conn *pgx.Conn, table string) int {
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		return -1 // not created yet
	}
	return n
}

// lags reads each scope's apply lag from /scopes.
func lags(admin string) string {
	resp, err := http.Get(admin + "/scopes")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc struct {
		Scopes []struct {
			Name  string
			Apply []struct {
				LagSeconds  float64 `json:"lag_seconds"`
				RowsApplied int64   `json:"rows_applied"`
			}
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return err.Error()
	}
	var parts []string
	for _, s := range doc.Scopes {
		for _, a := range s.Apply {
			parts = append(parts, fmt.Sprintf("scope %s: lag %.0f ms, %d rows applied", s.Name, a.LagSeconds*1000, a.RowsApplied))
		}
	}
	return strings.Join(parts, "; ")
}
