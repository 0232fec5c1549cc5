package postgres

import (
	"strings"
	"testing"
)

// TestSQLServerTypes: create_tables maps each SQL Server type onto a
// PostgreSQL type that holds its values (docs/type-mapping.md), and
// refuses those it cannot hold, naming the fix.
func TestSQLServerTypes(t *testing.T) {
	for typ, want := range map[string]string{
		"tinyint": "smallint", "int": "integer", "bigint": "bigint", "bit": "boolean",
		"decimal(10,2)": "numeric(10,2)", "money": "numeric(19,4)", "real": "real", "float": "double precision",
		"nchar(3)": "character(3)", "nvarchar(50)": "character varying(50)", "nvarchar(max)": "text", "varchar(max)": "text",
		"varbinary(16)": "bytea", "uniqueidentifier": "uuid", "date": "date", "datetime": "timestamp(3) without time zone",
		"datetime2(3)": "timestamp(3) without time zone", "time(0)": "time(0) without time zone",
		"datetimeoffset(6)": "timestamp(6) with time zone",
	} {
		if got, err := columnType("sqlserver", typ); err != nil || got != want {
			t.Errorf("columnType(sqlserver, %s) = %q, %v; want %q", typ, got, err, want)
		}
	}
	for typ, want := range map[string]string{
		"datetime2(7)": "make the source column datetime2(6)",
		"time(7)":      "make the source column time(6)",
		"geography":    "create the column yourself",
		"sql_variant":  "create the column yourself",
	} {
		if _, err := columnType("sqlserver", typ); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("columnType(sqlserver, %s) = %v, want an error saying %q", typ, err, want)
		}
	}
}
