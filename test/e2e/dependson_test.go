package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDependsOn replicates customers that reference products to a target
// that checks the reference with a foreign key. The router copies "customers"
// first (it takes snapshots in scope order), so without depends_on its
// rows reach the target before their products and the target refuses
// them. With depends_on = ["products"], the customers worker applies
// nothing until the products copy is committed at the target: no state
// of the target has a customer while products is incomplete, and
// everything lands. After a restart, the dependency is found finished
// from the snapshot records and the checkpoint, and new rows flow.
func TestDependsOn(t *testing.T) {
	products := `CREATE TABLE products (id int PRIMARY KEY, name text)`
	customers := `CREATE TABLE customers (id int PRIMARY KEY, product_id int NOT NULL REFERENCES products (id))`
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", products, customers,
			`INSERT INTO products SELECT g, md5(g::text) FROM generate_series(1, 100000) g`,
			`INSERT INTO customers SELECT g, 1000 * g FROM generate_series(1, 100) g`)
		// The target checks the reference with the same foreign key: a
		// snapshot of products empties it with DELETE, since PostgreSQL
		// refuses to truncate a table a foreign key references.
		r.dst.Exec(t, "replica", products, customers)
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

	// depends_on orders the initial snapshots only: live changes of two
	// scopes reach the target in no set order, so a customer inserted
	// right after its product could land first and be refused. The
	// product lands before the customer is inserted.
	r.d.Stop()
	r.d.Start()
	r.src.Exec(t, "app", `INSERT INTO products VALUES (100001, 'new')`)
	waitIdentical(t, r, time.Minute, q[:1], q[:1])
	r.src.Exec(t, "app", `INSERT INTO customers VALUES (101, 100001)`)
	waitIdentical(t, r, time.Minute, q, q)
}
