package postgres

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// fakeQuerier is a querier made of a function.
type fakeQuerier struct {
	query func(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (f fakeQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return f.query(ctx, sql, args...)
}

// countingQuerier passes queries to q and counts them.
func countingQuerier(q querier, n *int) fakeQuerier {
	return fakeQuerier{query: func(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
		*n++
		return q.Query(ctx, sql, args...)
	}}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func TestResolve(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.CreateDB(t, "types")
	pg.Exec(t, "types", customTypes...)
	conn := connect(t, dsn)
	ctx := context.Background()

	oidOf := map[string]uint32{}
	for _, name := range []string{"mood", "_mood", "price", "_price", "price2", "intarr", "pair", "_pair", "floatrange", "citext"} {
		var oid uint32
		if err := conn.QueryRow(ctx, "SELECT $1::regtype::oid", name).Scan(&oid); err != nil {
			t.Fatal(err)
		}
		oidOf[name] = oid
	}

	c := newTypeCache()
	var queries int
	q := countingQuerier(conn, &queries)
	const dropped = 999999
	// Only the columns' types: the domain's base and the arrays' elements
	// must come along.
	cols := []uint32{oidOf["_mood"], oidOf["price2"], oidOf["_price"], oidOf["intarr"], oidOf["_pair"],
		oidOf["floatrange"], oidOf["citext"], pgtype.Int8OID, oidOf["price2"], dropped}
	if err := c.resolve(ctx, q, cols); err != nil {
		t.Fatal(err)
	}
	if queries != 1 {
		t.Errorf("resolve ran %d queries, want 1", queries)
	}
	want := []typeInfo{
		{OID: oidOf["mood"], Name: "mood", Type: 'e', Category: 'E', Delim: ','},
		{OID: oidOf["_mood"], Name: "_mood", Type: 'b', Category: 'A', Elem: oidOf["mood"], Delim: ','},
		{OID: oidOf["price"], Name: "price", Type: 'd', Category: 'N', Base: pgtype.NumericOID, Delim: ','},
		{OID: oidOf["_price"], Name: "_price", Type: 'b', Category: 'A', Elem: oidOf["price"], Delim: ','},
		{OID: oidOf["price2"], Name: "price2", Type: 'd', Category: 'N', Base: oidOf["price"], Delim: ','},
		{OID: oidOf["intarr"], Name: "intarr", Type: 'd', Category: 'A', Base: pgtype.Int4ArrayOID, Delim: ','},
		{OID: oidOf["pair"], Name: "pair", Type: 'c', Category: 'C', Delim: ','},
		{OID: oidOf["_pair"], Name: "_pair", Type: 'b', Category: 'A', Elem: oidOf["pair"], Delim: ','},
		{OID: oidOf["floatrange"], Name: "floatrange", Type: 'r', Category: 'R', Delim: ','},
		{OID: oidOf["citext"], Name: "citext", Type: 'b', Category: 'S', Delim: ','},
	}
	for _, w := range want {
		got, ok := c.lookup(w.OID)
		if !ok {
			t.Errorf("type %s not loaded", w.Name)
			continue
		}
		if got != w {
			t.Errorf("type %s = %+v, want %+v", w.Name, got, w)
		}
	}
	if _, ok := c.lookup(dropped); ok {
		t.Errorf("dropped type %d known", dropped)
	}
	if got, err := c.decoder(oidOf["price2"])([]byte("1.50")); err != nil || got != capture.Decimal("1.50") {
		t.Errorf("decode price2 = %#v, %v", got, err)
	}
	if got, err := c.decoder(dropped)([]byte("x")); err != nil || got != "x" {
		t.Errorf("decode dropped type = %#v, %v", got, err)
	}

	queries = 0
	if err := c.resolve(ctx, q, cols[:len(cols)-1]); err != nil {
		t.Fatal(err)
	}
	if queries != 0 {
		t.Errorf("resolve of known types ran %d queries, want 0", queries)
	}
}

func TestResolveErrorLeavesCacheUnchanged(t *testing.T) {
	failure := errors.New("connection lost")
	c := newTypeCache()
	q := fakeQuerier{query: func(context.Context, string, ...any) (pgx.Rows, error) { return nil, failure }}
	err := c.resolve(context.Background(), q, []uint32{16500, pgtype.Int4OID})
	if !errors.Is(err, failure) {
		t.Fatalf("resolve error = %v, want %v", err, failure)
	}
	if len(c.loaded) != 0 {
		t.Errorf("cache loaded %v after error", c.loaded)
	}
}

func TestResolveBuiltinsNeedNoQuery(t *testing.T) {
	q := fakeQuerier{query: func(context.Context, string, ...any) (pgx.Rows, error) {
		t.Fatal("resolve queried for built-in types")
		return nil, nil
	}}
	oids := slices.Collect(maps.Keys(builtinTypes))
	if err := newTypeCache().resolve(context.Background(), q, oids); err != nil {
		t.Fatal(err)
	}
}

// TestBuiltinTypesMatchCatalog checks the built-in table against pg_type.
func TestBuiltinTypesMatchCatalog(t *testing.T) {
	pg := testenv.StartPostgres(t)
	conn := connect(t, pg.DSN("postgres"))
	oids := slices.Sorted(maps.Keys(builtinTypes))
	rows, err := conn.Query(context.Background(), typeQuery, oids)
	if err != nil {
		t.Fatal(err)
	}
	catalog := map[uint32]typeInfo{}
	var typ, cat, delim string
	for rows.Next() {
		var ti typeInfo
		if err := rows.Scan(&ti.OID, &ti.Name, &typ, &cat, &ti.Elem, &ti.Base, &delim); err != nil {
			t.Fatal(err)
		}
		ti.Type, ti.Category, ti.Delim = typ[0], cat[0], delim[0]
		catalog[ti.OID] = ti
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, oid := range oids {
		want, ok := catalog[oid]
		if !ok {
			t.Errorf("built-in type %d (%s) not in pg_type", oid, builtinTypes[oid].Name)
			continue
		}
		if oid == int2vectorOID || oid == oidvectorOID {
			want.Elem = 0 // deliberately not decoded as arrays
		}
		if got := builtinTypes[oid]; got != want {
			t.Errorf("built-in type %d = %+v, pg_type has %+v", oid, got, want)
		}
	}
}
