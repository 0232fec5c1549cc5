package mysql

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
	kindInt                     // integers, numbers or strings → int64 (uint64 above its range)
	kindUint                    // unsigned integers → uint64
	kindFloat                   // numbers → float64; NaN and infinities rejected
	kindFloat32                 // as kindFloat, rounded to the single precision value the source held
	kindDecimal                 // exact decimal text; NaN and infinities rejected, scale checked
	kindBool                    // true/false → 1/0
	kindBytes                   // base64 → []byte
	kindJSON                    // any JSON → its text
	kindTimestampTZ             // RFC 3339 instant → UTC "YYYY-MM-DD HH:MM:SS.ffffff"
	kindDateTime                // "YYYY-MM-DDTHH:MM:SS[.ffffff]" → with a space; zero dates kept
	kindDate                    // "YYYY-MM-DD"; zero dates kept, infinities rejected
	kindTime                    // "[-]H:MM:SS[.ffffff]" as it is
	kindBit                     // a string of '0' and '1' → uint64
)

// mapped is a source column type at a MySQL target.
type mapped struct {
	ddl  string // the column type syncd creates
	kind kind
	note string // why the type differs from the source's, if it matters
}

// mapType maps the source type typ of a column of a source of the given
// kind. key says the column is in the primary key, which MySQL cannot
// build on a LONGTEXT or LONGBLOB. An error means the type has no
// faithful MySQL type.
func mapType(sourceKind, typ string, key bool) (mapped, error) {
	switch sourceKind {
	case scopes.KindPostgres, "":
		return mapPostgres(typ, key)
	case scopes.KindMySQL:
		return mapMySQL(typ)
	case scopes.KindSQLServer:
		return mapSQLServer(typ, key)
	}
	return mapped{}, fmt.Errorf("source kind %q has no type mapping to MySQL", sourceKind)
}

// pgTypeRE splits a PostgreSQL format_type name: base name, modifiers,
// time zone clause, array brackets.
var pgTypeRE = regexp.MustCompile(`^([a-z_][a-z0-9_ ."]*?)\s*(?:\(\s*([0-9 ,]*)\))?\s*(with time zone|without time zone)?\s*((?:\[\d*\])*)$`)

// Widths: a VARCHAR key column in place of an unbounded text or bytes
// type; the widest VARCHAR created (utf8mb4 rows hold 65,535 bytes).
const (
	keyVarcharLen = 255
	maxVarcharLen = 16383
)

func mapPostgres(typ string, key bool) (mapped, error) {
	m := pgTypeRE.FindStringSubmatch(strings.ToLower(strings.TrimSpace(typ)))
	if m == nil {
		return longText(key, typ), nil
	}
	name, mods, tz, array := m[1], m[2], m[3], m[4]
	if array != "" {
		if key {
			return mapped{}, fmt.Errorf("array type %s cannot be a key column at MySQL", typ)
		}
		return mapped{ddl: "JSON", kind: kindJSON, note: "arrays are stored as JSON arrays"}, nil
	}
	var args []int
	for _, a := range strings.Split(mods, ",") {
		if a = strings.TrimSpace(a); a != "" {
			n, err := strconv.Atoi(a)
			if err != nil {
				return mapped{}, fmt.Errorf("read type %s: %w", typ, err)
			}
			args = append(args, n)
		}
	}
	arg := func(i, def int) int {
		if i < len(args) {
			return args[i]
		}
		return def
	}
	switch name {
	case "smallint", "int2":
		return mapped{ddl: "SMALLINT", kind: kindInt}, nil
	case "integer", "int", "int4":
		return mapped{ddl: "INT", kind: kindInt}, nil
	case "bigint", "int8":
		return mapped{ddl: "BIGINT", kind: kindInt}, nil
	case "oid", "xid", "cid":
		return mapped{ddl: "INT UNSIGNED", kind: kindUint}, nil
	case "numeric", "decimal":
		if len(args) == 0 {
			return mapped{ddl: "DECIMAL(65,30)", kind: kindDecimal,
				note: "numeric without precision: values with more than 35 integer or 30 fraction digits are rejected"}, nil
		}
		p, s := arg(0, 0), arg(1, 0)
		if p > 65 || s > 30 || s < 0 || s > p {
			return mapped{}, fmt.Errorf("%s does not fit MySQL's DECIMAL (at most 65 digits, 30 after the point); create the column yourself, for example as VARCHAR, and set create_tables = false", typ)
		}
		return mapped{ddl: fmt.Sprintf("DECIMAL(%d,%d)", p, s), kind: kindDecimal}, nil
	case "real", "float4":
		return mapped{ddl: "FLOAT", kind: kindFloat32}, nil
	case "double precision", "float8":
		return mapped{ddl: "DOUBLE", kind: kindFloat}, nil
	case "boolean", "bool":
		return mapped{ddl: "TINYINT(1)", kind: kindBool}, nil
	case "character varying", "varchar":
		if n := arg(0, 0); n > 0 && n <= maxVarcharLen {
			return mapped{ddl: fmt.Sprintf("VARCHAR(%d)", n), kind: kindText}, nil
		}
		return longText(key, typ), nil
	case "character", "char", "bpchar":
		n := arg(0, 1)
		if name == "bpchar" && len(args) == 0 {
			return longText(key, typ), nil
		}
		if n <= 255 {
			return mapped{ddl: fmt.Sprintf("CHAR(%d)", n), kind: kindText, note: "MySQL strips CHAR's trailing spaces when read"}, nil
		}
		if n <= maxVarcharLen {
			return mapped{ddl: fmt.Sprintf("VARCHAR(%d)", n), kind: kindText}, nil
		}
		return longText(key, typ), nil
	case "bytea":
		if key {
			return mapped{ddl: fmt.Sprintf("VARBINARY(%d)", keyVarcharLen), kind: kindBytes,
				note: "a key column cannot be a LONGBLOB; longer values are rejected"}, nil
		}
		return mapped{ddl: "LONGBLOB", kind: kindBytes}, nil
	case "date":
		return mapped{ddl: "DATE", kind: kindDate, note: "infinity and BC dates are rejected"}, nil
	case "timestamp", "timestamptz":
		p := min(arg(0, 6), 6)
		k := kindDateTime
		if tz == "with time zone" || name == "timestamptz" {
			k = kindTimestampTZ
		}
		return mapped{ddl: fmt.Sprintf("DATETIME(%d)", p), kind: k, note: "infinity, BC and years after 9999 are rejected"}, nil
	case "time":
		if tz == "with time zone" {
			return longText(key, typ), nil
		}
		return mapped{ddl: fmt.Sprintf("TIME(%d)", min(arg(0, 6), 6)), kind: kindTime}, nil
	case "timetz":
		return longText(key, typ), nil
	case "uuid":
		return mapped{ddl: "CHAR(36)", kind: kindText}, nil
	case "json", "jsonb":
		if key {
			return mapped{}, fmt.Errorf("%s cannot be a key column at MySQL", typ)
		}
		return mapped{ddl: "JSON", kind: kindJSON}, nil
	case "interval":
		return mapped{ddl: "VARCHAR(64)", kind: kindText, note: "kept as PostgreSQL's text; MySQL has no interval type"}, nil
	case "bit":
		if n := arg(0, 1); n >= 1 && n <= 64 {
			return mapped{ddl: fmt.Sprintf("BIT(%d)", n), kind: kindBit}, nil
		}
		return longText(key, typ), nil
	case "inet", "cidr":
		return mapped{ddl: "VARCHAR(43)", kind: kindText}, nil
	case "macaddr":
		return mapped{ddl: "VARCHAR(17)", kind: kindText}, nil
	case "macaddr8":
		return mapped{ddl: "VARCHAR(23)", kind: kindText}, nil
	}
	return longText(key, typ), nil
}

// longText is the type of unbounded text, and of types MySQL lacks, kept
// in their text form: LONGTEXT, or VARCHAR(255) for key columns.
func longText(key bool, typ string) mapped {
	if key {
		return mapped{ddl: fmt.Sprintf("VARCHAR(%d)", keyVarcharLen), kind: kindText,
			note: "a key column cannot be a LONGTEXT; longer values are rejected"}
	}
	return mapped{ddl: "LONGTEXT", kind: kindText}
}

// mysqlTypeRE splits a MySQL COLUMN_TYPE: base name, argument list,
// attributes.
var mysqlTypeRE = regexp.MustCompile(`(?i)^([a-z][a-z0-9 ]*?)\s*(?:\((.*)\))?((?:\s+(?:unsigned|signed|zerofill))*)$`)

// mapMySQL maps a MySQL or MariaDB COLUMN_TYPE ("int(10) unsigned",
// "decimal(10,2)", "enum('a','b')") to itself. The text is parsed and
// written back from its parts, so that nothing but a type reaches DDL.
func mapMySQL(typ string) (mapped, error) {
	m := mysqlTypeRE.FindStringSubmatch(strings.TrimSpace(typ))
	if m == nil {
		return mapped{}, fmt.Errorf("cannot read MySQL type %q", typ)
	}
	name := strings.ToLower(m[1])
	attrs := strings.Fields(strings.ToLower(m[3]))
	ddl := name
	if strings.Contains(typ, "(") {
		args, err := typeArgs(m[2])
		if err != nil {
			return mapped{}, fmt.Errorf("cannot read MySQL type %q: %w", typ, err)
		}
		ddl += "(" + args + ")"
	}
	if len(attrs) > 0 {
		ddl += " " + strings.Join(attrs, " ")
	}
	unsigned := false
	for _, a := range attrs {
		unsigned = unsigned || a == "unsigned"
	}
	k := kindText
	switch name {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		k = kindInt
		if unsigned {
			k = kindUint
		}
	case "bool", "boolean":
		k = kindBool
	case "decimal", "numeric", "dec", "fixed":
		k = kindDecimal
	case "float":
		k = kindFloat32
	case "double", "real", "double precision":
		k = kindFloat
	case "bit":
		k = kindBit
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		k = kindBytes
	case "date":
		k = kindDate
	case "datetime":
		k = kindDateTime
	case "timestamp":
		k = kindTimestampTZ
	case "time":
		k = kindTime
	case "json":
		k = kindJSON
	}
	return mapped{ddl: ddl, kind: k}, nil
}

// typeArgs reads a type's argument list, numbers or quoted strings as
// COLUMN_TYPE writes them (quotes doubled, backslashes escaped), and
// writes it back, strings quoted anew.
func typeArgs(s string) (string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		if s[0] == '\'' {
			var b strings.Builder
			i := 1
			for ; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) { // COLUMN_TYPE escapes backslashes
					i++
					b.WriteByte(s[i])
					continue
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i++
						continue
					}
					break
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return "", fmt.Errorf("unterminated string")
			}
			out = append(out, quoteString(b.String()))
			s = s[i+1:]
		} else {
			j := strings.IndexByte(s, ',')
			if j < 0 {
				j = len(s)
			}
			n := strings.TrimSpace(s[:j])
			if _, err := strconv.ParseUint(n, 10, 32); err != nil {
				return "", fmt.Errorf("argument %q is neither a number nor a string", n)
			}
			out = append(out, n)
			s = s[j:]
		}
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		if s[0] != ',' {
			return "", fmt.Errorf("expected a comma at %q", s)
		}
		s = s[1:]
	}
	return strings.Join(out, ","), nil
}

// quoteString writes s as a SQL string literal for DDL.
func quoteString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
