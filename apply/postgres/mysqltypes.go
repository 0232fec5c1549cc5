package postgres

import (
	"strings"

	"github.com/syncd-dev/syncd/scopes"
)

// columnType returns the PostgreSQL type create_tables gives a column of
// source type typ from a source of kind sourceKind. PostgreSQL types are
// kept as they are; MySQL types map as docs/type-mapping.md lists, chosen
// so that every value of the MySQL type fits: unsigned integers widen,
// TIME (which spans ±838 hours) becomes interval, ENUM and SET become
// text. Values the PostgreSQL type cannot hold (zero dates) are rejected
// by the target when applied, never stored altered. SQL Server types map
// as sqlserverType says, an error when none holds their values.
func columnType(sourceKind, typ string) (string, error) {
	switch sourceKind {
	case scopes.KindSQLServer:
		return sqlserverType(typ)
	case scopes.KindMySQL:
		return mysqlType(typ), nil
	}
	return typ, nil
}

// mysqlType is columnType of a MySQL or MariaDB source.
func mysqlType(typ string) string {
	base, mods, _ := strings.Cut(typ, "(")
	mods = strings.TrimSuffix(mods, ")")
	unsigned := strings.HasSuffix(typ, " unsigned")
	if unsigned {
		base = strings.TrimSuffix(base, " unsigned")
	}
	switch base {
	case "tinyint", "smallint", "year":
		if unsigned && base == "smallint" {
			return "integer"
		}
		return "smallint"
	case "mediumint":
		return "integer"
	case "int", "integer":
		if unsigned {
			return "bigint"
		}
		return "integer"
	case "bigint":
		if unsigned {
			return "numeric(20,0)"
		}
		return "bigint"
	case "decimal", "numeric":
		if mods == "" {
			return "numeric"
		}
		return "numeric(" + mods + ")"
	case "float":
		return "real"
	case "double", "real":
		return "double precision"
	case "bit":
		if mods == "" {
			return "bit(1)"
		}
		return "bit(" + mods + ")"
	case "char":
		return "character(" + orOne(mods) + ")"
	case "varchar":
		return "character varying(" + mods + ")"
	case "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return "text"
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry":
		return "bytea"
	case "json":
		return "jsonb"
	case "date":
		return "date"
	case "datetime":
		return "timestamp(" + orZero(mods) + ") without time zone"
	case "timestamp":
		return "timestamp(" + orZero(mods) + ") with time zone"
	case "time":
		return "interval"
	}
	return "text"
}

func orOne(s string) string {
	if s == "" {
		return "1"
	}
	return s
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
