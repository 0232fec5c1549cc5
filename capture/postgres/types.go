package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// typeInfo is what the catalog says about a column type.
type typeInfo struct {
	OID      uint32
	Name     string // pg_type.typname
	Type     byte   // pg_type.typtype: 'b' base, 'e' enum, 'd' domain, 'r' range, 'm' multirange, 'c' composite, 'p' pseudo
	Category byte   // pg_type.typcategory
	Elem     uint32 // element type OID for arrays (typelem when typcategory='A'), else 0
	Base     uint32 // base type OID for domains, else 0
	Delim    byte   // array delimiter (typdelim), ',' for all built-ins except box ';'
}

// querier runs a catalog query. *pgx.Conn satisfies it; a replication
// connection (replication=database) does not, since it speaks only the
// simple query protocol through pgconn.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

var _ querier = (*pgx.Conn)(nil)

// typeCache resolves type OIDs to typeInfo. Built-in types are known without
// a query; other types (enums, domains, composites, ranges, extension types
// such as citext, and arrays of them) are loaded from pg_type by resolve.
//
// Type OIDs are never reused while a type exists and a type's kind, base
// and element never change, so entries are kept for the life of the cache.
// A typeCache is not safe for concurrent use; it belongs to the one
// goroutine that reads a replication stream.
type typeCache struct {
	loaded map[uint32]typeInfo // from pg_type; built-ins live in builtinTypes
}

// newTypeCache returns a cache that knows the built-in types.
func newTypeCache() *typeCache {
	return &typeCache{loaded: make(map[uint32]typeInfo)}
}

// lookup returns what the cache knows about oid.
func (c *typeCache) lookup(oid uint32) (typeInfo, bool) {
	if t, ok := builtinTypes[oid]; ok {
		return t, true
	}
	t, ok := c.loaded[oid]
	return t, ok
}

// typeQuery loads the types in $1 and, recursively, the base types of
// domains and the element types of arrays among them.
const typeQuery = `WITH RECURSIVE wanted(oid) AS (
	SELECT unnest($1::pg_catalog.oid[])
	UNION
	SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END
	FROM pg_catalog.pg_type t JOIN wanted w ON t.oid = w.oid
	WHERE t.typtype = 'd' OR (t.typcategory = 'A' AND t.typelem <> 0)
)
SELECT t.oid, t.typname::text, t.typtype::text, t.typcategory::text,
	CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0::pg_catalog.oid END,
	t.typbasetype, t.typdelim::text
FROM pg_catalog.pg_type t JOIN wanted w ON t.oid = w.oid`

// resolve makes sure the cache knows every type in oids, loading the
// unknown ones (with the base types of domains and the element types of
// arrays, down to types the cache knows) in one query. On error the cache
// is unchanged. OIDs that pg_type does not have (a type dropped since the
// relation was sent) stay unknown and decode as strings.
func (c *typeCache) resolve(ctx context.Context, q querier, oids []uint32) error {
	var missing []uint32
	for _, oid := range oids {
		if _, ok := c.lookup(oid); !ok && !slices.Contains(missing, oid) {
			missing = append(missing, oid)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, typeQuery, missing)
	if err != nil {
		return fmt.Errorf("load types %v: %w", missing, err)
	}
	var found []typeInfo
	var typ, cat, delim string
	for rows.Next() {
		var t typeInfo
		if err := rows.Scan(&t.OID, &t.Name, &typ, &cat, &t.Elem, &t.Base, &delim); err != nil {
			rows.Close()
			return fmt.Errorf("load types %v: %w", missing, err)
		}
		t.Type, t.Category, t.Delim = firstByte(typ), firstByte(cat), firstByte(delim)
		found = append(found, t)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load types %v: %w", missing, err)
	}
	for _, t := range found {
		c.loaded[t.OID] = t
	}
	return nil
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// OIDs of built-in types that pgtype has no constant for.
const (
	int2vectorOID   = 22
	regprocOID      = 24
	oidvectorOID    = 30
	moneyOID        = 790
	moneyArrayOID   = 791
	regclassOID     = 2205
	regtypeOID      = 2206
	regclassArrOID  = 2210
	regtypeArrOID   = 2211
	pgLSNOID        = 3220
	pgLSNArrayOID   = 3221
	tsqueryOID      = 3615
	tsqueryArrayOID = 3645
)

// builtinTypes is the read-only table of the built-in types that columns
// commonly have, so that they need no catalog query. Types missing here
// are loaded by resolve like any other.
var builtinTypes = makeBuiltinTypes()

func makeBuiltinTypes() map[uint32]typeInfo {
	scalars := []struct {
		oid      uint32
		name     string
		typ, cat byte
	}{
		{pgtype.BoolOID, "bool", 'b', 'B'},
		{pgtype.ByteaOID, "bytea", 'b', 'U'},
		{pgtype.QCharOID, "char", 'b', 'Z'},
		{pgtype.NameOID, "name", 'b', 'S'},
		{pgtype.Int8OID, "int8", 'b', 'N'},
		{pgtype.Int2OID, "int2", 'b', 'N'},
		// int2vector and oidvector are arrays to the catalog, but their
		// text form is space-separated, not array syntax: keep it as text.
		{int2vectorOID, "int2vector", 'b', 'A'},
		{pgtype.Int4OID, "int4", 'b', 'N'},
		{regprocOID, "regproc", 'b', 'N'},
		{pgtype.TextOID, "text", 'b', 'S'},
		{pgtype.OIDOID, "oid", 'b', 'N'},
		{pgtype.TIDOID, "tid", 'b', 'U'},
		{pgtype.XIDOID, "xid", 'b', 'U'},
		{pgtype.CIDOID, "cid", 'b', 'U'},
		{oidvectorOID, "oidvector", 'b', 'A'},
		{pgtype.JSONOID, "json", 'b', 'U'},
		{pgtype.XMLOID, "xml", 'b', 'U'},
		{pgtype.PointOID, "point", 'b', 'G'},
		{pgtype.LsegOID, "lseg", 'b', 'G'},
		{pgtype.PathOID, "path", 'b', 'G'},
		{pgtype.BoxOID, "box", 'b', 'G'},
		{pgtype.PolygonOID, "polygon", 'b', 'G'},
		{pgtype.LineOID, "line", 'b', 'G'},
		{pgtype.CIDROID, "cidr", 'b', 'I'},
		{pgtype.Float4OID, "float4", 'b', 'N'},
		{pgtype.Float8OID, "float8", 'b', 'N'},
		{pgtype.CircleOID, "circle", 'b', 'G'},
		{pgtype.Macaddr8OID, "macaddr8", 'b', 'U'},
		{moneyOID, "money", 'b', 'N'},
		{pgtype.MacaddrOID, "macaddr", 'b', 'U'},
		{pgtype.InetOID, "inet", 'b', 'I'},
		{pgtype.ACLItemOID, "aclitem", 'b', 'U'},
		{pgtype.BPCharOID, "bpchar", 'b', 'S'},
		{pgtype.VarcharOID, "varchar", 'b', 'S'},
		{pgtype.DateOID, "date", 'b', 'D'},
		{pgtype.TimeOID, "time", 'b', 'D'},
		{pgtype.TimestampOID, "timestamp", 'b', 'D'},
		{pgtype.TimestamptzOID, "timestamptz", 'b', 'D'},
		{pgtype.IntervalOID, "interval", 'b', 'T'},
		{pgtype.TimetzOID, "timetz", 'b', 'D'},
		{pgtype.BitOID, "bit", 'b', 'V'},
		{pgtype.VarbitOID, "varbit", 'b', 'V'},
		{pgtype.NumericOID, "numeric", 'b', 'N'},
		{regclassOID, "regclass", 'b', 'N'},
		{regtypeOID, "regtype", 'b', 'N'},
		{pgtype.UUIDOID, "uuid", 'b', 'U'},
		{pgLSNOID, "pg_lsn", 'b', 'U'},
		{pgtype.TSVectorOID, "tsvector", 'b', 'U'},
		{tsqueryOID, "tsquery", 'b', 'U'},
		{pgtype.JSONBOID, "jsonb", 'b', 'U'},
		{pgtype.JSONPathOID, "jsonpath", 'b', 'U'},
		{pgtype.XID8OID, "xid8", 'b', 'U'},
		{pgtype.Int4rangeOID, "int4range", 'r', 'R'},
		{pgtype.NumrangeOID, "numrange", 'r', 'R'},
		{pgtype.TsrangeOID, "tsrange", 'r', 'R'},
		{pgtype.TstzrangeOID, "tstzrange", 'r', 'R'},
		{pgtype.DaterangeOID, "daterange", 'r', 'R'},
		{pgtype.Int8rangeOID, "int8range", 'r', 'R'},
		{pgtype.Int4multirangeOID, "int4multirange", 'm', 'R'},
		{pgtype.NummultirangeOID, "nummultirange", 'm', 'R'},
		{pgtype.TsmultirangeOID, "tsmultirange", 'm', 'R'},
		{pgtype.TstzmultirangeOID, "tstzmultirange", 'm', 'R'},
		{pgtype.DatemultirangeOID, "datemultirange", 'm', 'R'},
		{pgtype.Int8multirangeOID, "int8multirange", 'm', 'R'},
	}
	// arrays maps each built-in array type to its element type.
	arrays := [][2]uint32{
		{pgtype.BoolArrayOID, pgtype.BoolOID},
		{pgtype.ByteaArrayOID, pgtype.ByteaOID},
		{pgtype.QCharArrayOID, pgtype.QCharOID},
		{pgtype.NameArrayOID, pgtype.NameOID},
		{pgtype.Int2ArrayOID, pgtype.Int2OID},
		{pgtype.Int4ArrayOID, pgtype.Int4OID},
		{pgtype.TextArrayOID, pgtype.TextOID},
		{pgtype.TIDArrayOID, pgtype.TIDOID},
		{pgtype.XIDArrayOID, pgtype.XIDOID},
		{pgtype.CIDArrayOID, pgtype.CIDOID},
		{pgtype.BPCharArrayOID, pgtype.BPCharOID},
		{pgtype.VarcharArrayOID, pgtype.VarcharOID},
		{pgtype.Int8ArrayOID, pgtype.Int8OID},
		{pgtype.PointArrayOID, pgtype.PointOID},
		{pgtype.LsegArrayOID, pgtype.LsegOID},
		{pgtype.PathArrayOID, pgtype.PathOID},
		{pgtype.BoxArrayOID, pgtype.BoxOID},
		{pgtype.Float4ArrayOID, pgtype.Float4OID},
		{pgtype.Float8ArrayOID, pgtype.Float8OID},
		{pgtype.PolygonArrayOID, pgtype.PolygonOID},
		{pgtype.OIDArrayOID, pgtype.OIDOID},
		{pgtype.ACLItemArrayOID, pgtype.ACLItemOID},
		{pgtype.MacaddrArrayOID, pgtype.MacaddrOID},
		{pgtype.InetArrayOID, pgtype.InetOID},
		{pgtype.CIDRArrayOID, pgtype.CIDROID},
		{pgtype.TimestampArrayOID, pgtype.TimestampOID},
		{pgtype.DateArrayOID, pgtype.DateOID},
		{pgtype.TimeArrayOID, pgtype.TimeOID},
		{pgtype.TimestamptzArrayOID, pgtype.TimestamptzOID},
		{pgtype.IntervalArrayOID, pgtype.IntervalOID},
		{pgtype.NumericArrayOID, pgtype.NumericOID},
		{pgtype.TimetzArrayOID, pgtype.TimetzOID},
		{pgtype.BitArrayOID, pgtype.BitOID},
		{pgtype.VarbitArrayOID, pgtype.VarbitOID},
		{moneyArrayOID, moneyOID},
		{pgtype.UUIDArrayOID, pgtype.UUIDOID},
		{pgtype.JSONArrayOID, pgtype.JSONOID},
		{pgtype.JSONBArrayOID, pgtype.JSONBOID},
		{pgtype.JSONPathArrayOID, pgtype.JSONPathOID},
		{pgtype.XMLArrayOID, pgtype.XMLOID},
		{pgtype.LineArrayOID, pgtype.LineOID},
		{pgtype.CircleArrayOID, pgtype.CircleOID},
		{pgtype.TSVectorArrayOID, pgtype.TSVectorOID},
		{tsqueryArrayOID, tsqueryOID},
		{pgtype.XID8ArrayOID, pgtype.XID8OID},
		{pgLSNArrayOID, pgLSNOID},
		{regclassArrOID, regclassOID},
		{regtypeArrOID, regtypeOID},
		{pgtype.Int4rangeArrayOID, pgtype.Int4rangeOID},
		{pgtype.NumrangeArrayOID, pgtype.NumrangeOID},
		{pgtype.TsrangeArrayOID, pgtype.TsrangeOID},
		{pgtype.TstzrangeArrayOID, pgtype.TstzrangeOID},
		{pgtype.DaterangeArrayOID, pgtype.DaterangeOID},
		{pgtype.Int8rangeArrayOID, pgtype.Int8rangeOID},
		{pgtype.Int4multirangeArrayOID, pgtype.Int4multirangeOID},
		{pgtype.NummultirangeArrayOID, pgtype.NummultirangeOID},
		{pgtype.TsmultirangeArrayOID, pgtype.TsmultirangeOID},
		{pgtype.TstzmultirangeArrayOID, pgtype.TstzmultirangeOID},
		{pgtype.DatemultirangeArrayOID, pgtype.DatemultirangeOID},
		{pgtype.Int8multirangeArrayOID, pgtype.Int8multirangeOID},
	}
	m := make(map[uint32]typeInfo, len(scalars)+len(arrays))
	for _, s := range scalars {
		delim := byte(',')
		if s.oid == pgtype.BoxOID {
			delim = ';'
		}
		m[s.oid] = typeInfo{OID: s.oid, Name: s.name, Type: s.typ, Category: s.cat, Delim: delim}
	}
	for _, a := range arrays {
		e := m[a[1]]
		m[a[0]] = typeInfo{OID: a[0], Name: "_" + e.Name, Type: 'b', Category: 'A', Elem: a[1], Delim: e.Delim}
	}
	return m
}
