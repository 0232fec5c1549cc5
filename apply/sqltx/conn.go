package sqltx

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/syncd-dev/syncd/apply"
)

// Conn is the connection of a database/sql target, which its engine's
// Target keeps: a pool of one connection (see Pool), opened on first use
// and opened again after it broke, and the transaction open on it, if
// any. A Conn is not safe for concurrent use, as its Target.
type Conn struct {
	name string
	dial func(ctx context.Context) (*sql.DB, error)
	db   *sql.DB
	open apply.Tx
}

// NewConn returns the Conn of the target named name, whose pool dial
// opens and checks; dial's errors are the engine's to classify.
func NewConn(name string, dial func(ctx context.Context) (*sql.DB, error)) Conn {
	return Conn{name: name, dial: dial}
}

// Pool returns a pool of one connection of c.
func Pool(c driver.Connector) *sql.DB {
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db
}

// Connect fails while a transaction is open: the connection is in use.
// Else it returns the pool, dialing it if there is none.
func (c *Conn) Connect(ctx context.Context) (*sql.DB, error) {
	if c.open != nil {
		return nil, fmt.Errorf("target %s: a transaction is open", c.name)
	}
	if c.db == nil {
		db, err := c.dial(ctx)
		if err != nil {
			return nil, err
		}
		c.db = db
	}
	return c.db, nil
}

// Begin starts a transaction on the server, connecting first if needed,
// and returns it as newTx makes it; it is open until Ended.
func (c *Conn) Begin(ctx context.Context, newTx func(*sql.Tx) apply.Tx) (apply.Tx, error) {
	db, err := c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	stx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin a transaction at target %s: %w", c.name, err)
	}
	x := newTx(stx)
	c.open = x
	return x, nil
}

// Ended forgets x, if it is the open transaction: it ended (Config.Ended).
func (c *Conn) Ended(x apply.Tx) {
	if c.open == x {
		c.open = nil
	}
}

// Close rolls back an open transaction and closes the pool.
func (c *Conn) Close() {
	if c.open != nil {
		c.open.Rollback(context.Background())
	}
	c.CloseDB()
}

// CloseDB closes the pool, if any: at Close, or when its state is
// unknown (Config.Broken).
func (c *Conn) CloseDB() {
	if c.db != nil {
		c.db.Close()
		c.db = nil
	}
}
