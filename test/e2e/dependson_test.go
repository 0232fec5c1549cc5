package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDependsOn replicates customers that reference products to a target
// that checks the reference (a trigger raising foreign_key_violation). The router copies "customers"
// first (it takes snapshots in scope order), so without depends_on its
// rows reach the target before their products and the target refuses
// them. With depends_on = ["products"], the customers worker applies
// nothing until the products copy is committed at the target: no state
// of the target has a customer while products is incomplete, and
// everything lands. After a restart, the dependency is found finished
// from the snapshot records and the checkpoint, and new rows flow.
func TestDependsOn(t *testing.T) {
	products := `CREATE TABLE products (id int PRIMARY KEY, name text)`
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", products,
			`CREATE TABLE customers (id int PRIMARY KEY, product_id int NOT NULL REFERENCES products (id))`,
			`INSERT INTO products SELECT g, md5(g::text) FROM generate_series(1, 100000) g`,
			`INSERT INTO customers SELECT g, 1000 * g FROM generate_series(1, 100) g`)
		// At the target the foreign key is a trigger: PostgreSQL refuses
		// to TRUNCATE a table that a REFERENCES constraint points at, and
		// a snapshot starts with one (docs/configuration.md, depends_on).
		r.dst.Exec(t, "replica", products,
			`CREATE TABLE customers (id int PRIMARY KEY, product_id int NOT NULL)`,
			`CREATE FUNCTION product_exists() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NOT EXISTS (SELECT FROM products WHERE id = NEW.product_id) THEN
					RAISE EXCEPTION 'customer % references product %, which is missing', NEW.id, NEW.product_id
						USING ERRCODE = 'foreign_key_violation';
				END IF;
				RETURN NEW;
			END $$`,
			`CREATE TRIGGER customers_product AFTER INSERT OR UPDATE ON customers
				FOR EACH ROW EXECUTE FUNCTION product_exists()`)
	}, `
scope "products" {
  source  = "app"
  targets = ["replica"]
  table "public.products" {}
}
scope "customers" {
  source     = "app"
  targets    = ["replica"]
  depends_on = ["products"]
  table "public.customers" {}
}`)
	early := watchCount(t, r.dstDSN, `SELECT CASE WHEN (SELECT count(*) FROM products) < 100000
		THEN (SELECT count(*) FROM customers) ELSE 0 END`, 0)
	r.d.Start()
	q := []string{`SELECT * FROM products ORDER BY id`, `SELECT * FROM customers ORDER BY id`}
	waitIdentical(t, r, 3*time.Minute, q, q)
	if seen := early(); len(seen) > 0 {
		t.Fatalf("the target held %v customers before the 100,000 products", seen)
	}
	if !strings.Contains(r.d.Logs(), "waiting for the scopes this scope depends on") {
		t.Fatalf("the customers worker did not wait for products; log:\n%s", r.d.Logs())
	}

	r.d.Stop()
	r.d.Start()
	r.src.Exec(t, "app", `INSERT INTO products VALUES (100001, 'new')`, `INSERT INTO customers VALUES (101, 100001)`)
	waitIdentical(t, r, time.Minute, q, q)
}
