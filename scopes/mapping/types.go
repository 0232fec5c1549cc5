package mapping

import (
	"reflect"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

// Zero values that stand for a column's type in a type-checking env.
var (
	intType    = reflect.TypeFor[int]()
	floatType  = reflect.TypeFor[float64]()
	stringType = reflect.TypeFor[string]()
	boolType   = reflect.TypeFor[bool]()
	timeType   = reflect.TypeFor[time.Time]()
	bytesType  = reflect.TypeFor[[]byte]()
)

// envType returns the Go type the values of a column of type typ from a
// source of kind have in expressions (see envValue), or nil when the type
// name does not say (then the expression is checked when it runs).
func envType(kind, typ string) reflect.Type {
	t := strings.ToLower(typ)
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = t[:i] + t[strings.LastIndexByte(t, ')')+1:]
	}
	t = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(t), " unsigned"))
	if kind == "sqlserver" {
		// As capture/sqlserver publishes them (its convert): timestamp
		// is rowversion, binary; datetimeoffset a time; the other dates,
		// money and uniqueidentifier text.
		switch t {
		case "timestamp", "rowversion", "image":
			return bytesType
		case "datetimeoffset":
			return timeType
		case "datetime2", "smalldatetime", "money", "smallmoney", "uniqueidentifier", "xml":
			return stringType
		}
	}
	switch t {
	case "smallint", "integer", "int", "bigint", "tinyint", "mediumint", "int2", "int4", "int8", "year":
		return intType
	case "real", "double precision", "float", "double", "float4", "float8":
		return floatType
	case "boolean", "bool", "bit":
		return boolType
	case "timestamp with time zone", "timestamptz":
		return timeType
	case "bytea", "blob", "tinyblob", "mediumblob", "longblob", "binary", "varbinary":
		return bytesType
	case "text", "character varying", "varchar", "character", "char", "nvarchar", "nchar", "ntext",
		"tinytext", "mediumtext", "longtext", "citext", "uuid", "numeric", "decimal", "date",
		"timestamp without time zone", "timestamp", "datetime", "time", "enum", "json", "jsonb":
		return stringType
	}
	return nil
}

// envValue converts a row value to what expressions see: integers as int,
// floats as float64, decimals and JSON as their text.
func envValue(v any) any {
	switch v := v.(type) {
	case int32:
		return int(v)
	case int64:
		return int(v)
	case uint64:
		if v <= 1<<63-1 {
			return int(v)
		}
		return float64(v)
	case float32:
		return float64(v)
	case capture.Decimal:
		return string(v)
	case capture.JSON:
		return string(v)
	}
	return v
}

// rowValue converts an expression's result to a row value; ok is false
// for a result no column can store (a map, a function).
func rowValue(v any) (any, bool) {
	switch v := v.(type) {
	case nil, string, bool, float64, time.Time, []byte:
		return v, true
	case int:
		return int64(v), true
	case int64:
		return v, true
	case float32:
		return float64(v), true
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out, true
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var ok bool
			if out[i], ok = rowValue(e); !ok {
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}

// columnTypes are the type names create_tables is given for an
// expression's result, per source kind (the dialect a published schema
// names types in).
var columnTypes = map[string]map[reflect.Type]string{
	"postgres": {intType: "bigint", floatType: "double precision", stringType: "text", boolType: "boolean",
		timeType: "timestamp with time zone", bytesType: "bytea"},
	"mysql": {intType: "bigint", floatType: "double", stringType: "longtext", boolType: "tinyint",
		timeType: "timestamp", bytesType: "longblob"},
	"sqlserver": {intType: "bigint", floatType: "float", stringType: "nvarchar(max)", boolType: "bit",
		timeType: "datetimeoffset", bytesType: "varbinary(max)"},
}

// columnType returns the type name for an expression result of type t
// from a source of kind, or "" if there is none.
func columnType(kind string, t reflect.Type) string {
	if t == nil {
		return ""
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		t = intType
	case reflect.Float64, reflect.Float32:
		t = floatType
	}
	return columnTypes[kind][t]
}

// fits reports whether a column declared of type typ (in the dialect of
// source kind) can hold the
// results of an expression of type rt (published as 0 or 1 if boolInt):
// false only when both are known and a number, bool, time or bytes
// column would be given something else. A text column takes anything,
// which the target casts.
func fits(kind, typ string, rt reflect.Type, boolInt bool) bool {
	want := envType(kind, typ)
	if want == nil || rt == nil || want == stringType {
		return true
	}
	switch rt.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		rt = intType
	case reflect.Float64, reflect.Float32:
		rt = floatType
	}
	switch want {
	case intType:
		return rt == intType || rt == boolType && boolInt
	case floatType:
		return rt == intType || rt == floatType
	case timeType, bytesType:
		return rt == want || rt == stringType
	}
	return rt == want
}
