package sqlserver

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/syncd-dev/syncd/scopes"
)

// kind says how a column's wire values (docs/wire-format.md) become
// driver values. It follows from the source's kind and type name.
type kind uint8

const (
	kindText        kind = iota // strings as they are; numbers, booleans and arrays as their JSON text
	kindInt                     // integers, numbers or strings → int64
	kindUint                    // unsigned integers → int64, or decimal text above its range
	kindFloat                   // numbers → float64; NaN and infinities rejected
	kindFloat32                 // as kindFloat, at the single precision the source held
	kindDecimal                 // exact decimal text; NaN and infinities rejected, scale checked
	kindBool                    // true/false → bool (BIT)
	kindBytes                   // base64 → []byte
	kindJSON                    // any JSON → its text
	kindTimestampTZ             // RFC 3339 instant → "YYYY-MM-DDTHH:MM:SS.fffffff+00:00"
	kindDateTime                // "YYYY-MM-DDTHH:MM:SS[.ffffff]" as it is; zero dates rejected
	kindDate                    // "YYYY-MM-DD"; zero dates, BC and infinity rejected
	kindTime                    // "HH:MM:SS[.ffffff]" of a day; 24:00:00 rejected by the server
)

// mapped is a source column type at a SQL Server target.
type mapped struct {
	ddl  string // the column type syncd creates
	kind kind
	note string // why the type differs from the source's, if it matters
}

// textCollation is the collation of the text columns syncd creates: it
// compares code points, so that keys which differ in case or accents
// stay different rows, as at the source. SQL Server still ignores
// trailing spaces when comparing
// (https://learn.microsoft.com/en-us/sql/relational-databases/collations/collation-and-unicode-support).
const textCollation = "Latin1_General_100_BIN2"

// Widths: the widest key column (an index key holds 900 bytes:
// https://learn.microsoft.com/en-us/sql/sql-server/maximum-capacity-specifications-for-sql-server),
// the widest NVARCHAR(n) and VARBINARY(n) before MAX.
const (
	keyNVarcharLen = 450
	keyBinaryLen   = 900
	maxNVarcharLen = 4000
	maxBinaryLen   = 8000
	maxDecimal     = 38
)

// mapType maps the source type typ of a column of a source of the given
// kind. key says the column is in the primary key, which cannot be a
// MAX type. An error means the type has no faithful SQL Server type.
func mapType(sourceKind, typ string, key bool) (mapped, error) {
	switch sourceKind {
	case scopes.KindPostgres, "":
		return mapPostgres(typ, key)
	case scopes.KindMySQL:
		return mapMySQL(typ, key)
	case scopes.KindSQLServer:
		return mapSQLServer(typ)
	}
	return mapped{}, fmt.Errorf("source kind %q has no type mapping to SQL Server", sourceKind)
}

// typeRE splits a type name as PostgreSQL's format_type or MySQL's
// COLUMN_TYPE writes it: base name, modifiers, time zone clause, array
// brackets, attributes.
var typeRE = regexp.MustCompile(`^([a-z_][a-z0-9_ ."]*?)\s*(?:\(\s*([0-9 ,-]*)\))?\s*(with time zone|without time zone)?\s*((?:\[\d*\])*)((?:\s+(?:unsigned|signed|zerofill))*)$`)

// parsed is a type name split by typeRE.
type parsed struct {
	name     string
	args     []int
	tz       bool // with time zone
	array    bool
	unsigned bool
}

// arg returns the i-th modifier, or def.
func (p parsed) arg(i, def int) int {
	if i < len(p.args) {
		return p.args[i]
	}
	return def
}

// parseType splits typ; ok is false for a name typeRE does not read
// (enum and set lists, for one).
func parseType(typ string) (parsed, bool) {
	m := typeRE.FindStringSubmatch(strings.ToLower(strings.TrimSpace(typ)))
	if m == nil {
		return parsed{}, false
	}
	p := parsed{name: m[1], tz: m[3] == "with time zone", array: m[4] != "", unsigned: strings.Contains(m[5], "unsigned")}
	for _, a := range strings.Split(m[2], ",") {
		if a = strings.TrimSpace(a); a != "" {
			n, err := strconv.Atoi(a)
			if err != nil {
				return parsed{}, false
			}
			p.args = append(p.args, n)
		}
	}
	return p, true
}

func mapPostgres(typ string, key bool) (mapped, error) {
	p, ok := parseType(typ)
	if !ok {
		return text(key), nil
	}
	if p.array {
		if key {
			return mapped{}, fmt.Errorf("array type %s cannot be a key column at SQL Server", typ)
		}
		return mapped{ddl: "NVARCHAR(MAX)", kind: kindJSON, note: "arrays are stored as JSON arrays"}, nil
	}
	switch p.name {
	case "smallint", "int2":
		return mapped{ddl: "SMALLINT", kind: kindInt}, nil
	case "integer", "int", "int4":
		return mapped{ddl: "INT", kind: kindInt}, nil
	case "bigint", "int8":
		return mapped{ddl: "BIGINT", kind: kindInt}, nil
	case "oid", "xid", "cid":
		return mapped{ddl: "BIGINT", kind: kindUint}, nil
	case "numeric", "decimal":
		if len(p.args) == 0 {
			return mapped{ddl: "DECIMAL(38,18)", kind: kindDecimal,
				note: "numeric without precision: values with more than 20 integer or 18 fraction digits are rejected"}, nil
		}
		return decimalType(typ, p.arg(0, 0), p.arg(1, 0))
	case "real", "float4":
		return mapped{ddl: "REAL", kind: kindFloat32}, nil
	case "double precision", "float8":
		return mapped{ddl: "FLOAT", kind: kindFloat}, nil
	case "boolean", "bool":
		return mapped{ddl: "BIT", kind: kindBool}, nil
	case "character varying", "varchar":
		return nvarchar(p.arg(0, 0), key, "NVARCHAR"), nil
	case "character", "char", "bpchar":
		if p.name == "bpchar" && len(p.args) == 0 {
			return text(key), nil
		}
		return nvarchar(p.arg(0, 1), key, "NCHAR"), nil
	case "bytea":
		return varbinary(0, key), nil
	case "date":
		return mapped{ddl: "DATE", kind: kindDate, note: "infinity and BC dates are rejected"}, nil
	case "timestamp", "timestamptz":
		prec := min(p.arg(0, 6), 7)
		if p.tz || p.name == "timestamptz" {
			return mapped{ddl: fmt.Sprintf("DATETIMEOFFSET(%d)", prec), kind: kindTimestampTZ,
				note: "stored at offset +00:00; infinity and BC are rejected"}, nil
		}
		return mapped{ddl: fmt.Sprintf("DATETIME2(%d)", prec), kind: kindDateTime, note: "infinity and BC are rejected"}, nil
	case "time":
		if p.tz {
			return text(key), nil
		}
		return mapped{ddl: fmt.Sprintf("TIME(%d)", min(p.arg(0, 6), 7)), kind: kindTime, note: "24:00:00 is rejected"}, nil
	case "timetz":
		return text(key), nil
	case "uuid":
		return mapped{ddl: "UNIQUEIDENTIFIER", kind: kindText}, nil
	case "json", "jsonb":
		if key {
			return mapped{}, fmt.Errorf("%s cannot be a key column at SQL Server", typ)
		}
		return mapped{ddl: "NVARCHAR(MAX)", kind: kindJSON, note: "JSON kept as text"}, nil
	case "interval":
		return mapped{ddl: "NVARCHAR(64) COLLATE " + textCollation, kind: kindText, note: "kept as PostgreSQL's ISO 8601 text; SQL Server has no interval type"}, nil
	case "inet", "cidr":
		return mapped{ddl: "NVARCHAR(43) COLLATE " + textCollation, kind: kindText}, nil
	case "macaddr":
		return mapped{ddl: "NVARCHAR(17) COLLATE " + textCollation, kind: kindText}, nil
	case "macaddr8":
		return mapped{ddl: "NVARCHAR(23) COLLATE " + textCollation, kind: kindText}, nil
	}
	return text(key), nil
}

func mapMySQL(typ string, key bool) (mapped, error) {
	lower := strings.ToLower(strings.TrimSpace(typ))
	if strings.HasPrefix(lower, "enum(") || strings.HasPrefix(lower, "set(") {
		return text(key), nil
	}
	p, ok := parseType(typ)
	if !ok {
		return mapped{}, fmt.Errorf("cannot read MySQL type %q", typ)
	}
	switch p.name {
	case "tinyint", "bool", "boolean":
		if p.unsigned {
			return mapped{ddl: "TINYINT", kind: kindInt}, nil
		}
		return mapped{ddl: "SMALLINT", kind: kindInt, note: "SQL Server's TINYINT holds 0 to 255"}, nil
	case "smallint":
		if p.unsigned {
			return mapped{ddl: "INT", kind: kindInt}, nil
		}
		return mapped{ddl: "SMALLINT", kind: kindInt}, nil
	case "year":
		return mapped{ddl: "SMALLINT", kind: kindInt}, nil
	case "mediumint", "int", "integer":
		if p.unsigned && p.name != "mediumint" {
			return mapped{ddl: "BIGINT", kind: kindInt}, nil
		}
		return mapped{ddl: "INT", kind: kindInt}, nil
	case "bigint":
		if p.unsigned {
			return mapped{ddl: "DECIMAL(20,0)", kind: kindUint, note: "SQL Server has no unsigned BIGINT"}, nil
		}
		return mapped{ddl: "BIGINT", kind: kindInt}, nil
	case "decimal", "numeric", "dec", "fixed":
		return decimalType(typ, p.arg(0, 10), p.arg(1, 0))
	case "float":
		return mapped{ddl: "REAL", kind: kindFloat32}, nil
	case "double", "real", "double precision":
		return mapped{ddl: "FLOAT", kind: kindFloat}, nil
	case "bit":
		n := p.arg(0, 1)
		return mapped{ddl: fmt.Sprintf("VARCHAR(%d) COLLATE %s", n, textCollation), kind: kindText,
			note: "kept as the bit string; SQL Server's BIT holds one bit"}, nil
	case "char":
		return nvarchar(p.arg(0, 1), key, "NCHAR"), nil
	case "varchar":
		return nvarchar(p.arg(0, 0), key, "NVARCHAR"), nil
	case "tinytext", "text", "mediumtext", "longtext":
		return text(key), nil
	case "binary":
		n := p.arg(0, 1)
		return mapped{ddl: fmt.Sprintf("BINARY(%d)", n), kind: kindBytes}, nil
	case "varbinary":
		return varbinary(p.arg(0, 0), key), nil
	case "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point", "linestring", "polygon",
		"multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return varbinary(0, key), nil
	case "date":
		return mapped{ddl: "DATE", kind: kindDate, note: "zero dates are rejected"}, nil
	case "datetime":
		return mapped{ddl: fmt.Sprintf("DATETIME2(%d)", p.arg(0, 0)), kind: kindDateTime, note: "zero dates are rejected"}, nil
	case "timestamp":
		return mapped{ddl: fmt.Sprintf("DATETIMEOFFSET(%d)", p.arg(0, 0)), kind: kindTimestampTZ, note: "the zero timestamp is rejected"}, nil
	case "time":
		return mapped{ddl: "NVARCHAR(20) COLLATE " + textCollation, kind: kindText,
			note: "kept as MySQL's text: SQL Server's TIME holds one day, MySQL's ±838 hours"}, nil
	case "json":
		if key {
			return mapped{}, fmt.Errorf("%s cannot be a key column at SQL Server", typ)
		}
		return mapped{ddl: "NVARCHAR(MAX)", kind: kindJSON, note: "JSON kept as text"}, nil
	}
	return text(key), nil
}

// decimalType is DECIMAL(p,s), if SQL Server has it.
func decimalType(typ string, p, s int) (mapped, error) {
	if p < 1 || p > maxDecimal || s < 0 || s > p {
		return mapped{}, fmt.Errorf("%s does not fit SQL Server's DECIMAL (at most 38 digits, 0 to p after the point); create the column yourself, for example as NVARCHAR, and set create_tables = false", typ)
	}
	return mapped{ddl: fmt.Sprintf("DECIMAL(%d,%d)", p, s), kind: kindDecimal}, nil
}

// text is the type of unbounded text, and of types SQL Server lacks,
// kept in their text form: NVARCHAR(MAX), or NVARCHAR(450) for key
// columns.
func text(key bool) mapped {
	if key {
		return mapped{ddl: fmt.Sprintf("NVARCHAR(%d) COLLATE %s", keyNVarcharLen, textCollation), kind: kindText,
			note: "a key column cannot be NVARCHAR(MAX); longer values are rejected"}
	}
	return mapped{ddl: "NVARCHAR(MAX) COLLATE " + textCollation, kind: kindText}
}

// nvarchar is NVARCHAR(n) or NCHAR(n) (typ), or text beyond 4,000. n
// counts UTF-16 code units at SQL Server, characters at the source: a
// value with characters outside the Basic Multilingual Plane may not fit.
func nvarchar(n int, key bool, typ string) mapped {
	if n <= 0 || n > maxNVarcharLen || key && n > keyNVarcharLen {
		return text(key)
	}
	return mapped{ddl: fmt.Sprintf("%s(%d) COLLATE %s", typ, n, textCollation), kind: kindText}
}

// varbinary is VARBINARY(n), VARBINARY(MAX) for n 0 or beyond 8,000, or
// VARBINARY(900) for key columns.
func varbinary(n int, key bool) mapped {
	switch {
	case key && (n <= 0 || n > keyBinaryLen):
		return mapped{ddl: fmt.Sprintf("VARBINARY(%d)", keyBinaryLen), kind: kindBytes,
			note: "a key column cannot be VARBINARY(MAX); longer values are rejected"}
	case n <= 0 || n > maxBinaryLen:
		return mapped{ddl: "VARBINARY(MAX)", kind: kindBytes}
	}
	return mapped{ddl: fmt.Sprintf("VARBINARY(%d)", n), kind: kindBytes}
}
