package mysql

import (
	"strings"
	"testing"
)

// TestSQLServerTypes: create_tables maps each SQL Server type onto a
// MySQL type that holds its values (docs/type-mapping.md), and refuses
// those it cannot hold, naming the fix.
func TestSQLServerTypes(t *testing.T) {
	for _, tt := range []struct {
		typ  string
		key  bool
		want string
		kind kind
	}{
		{"tinyint", false, "TINYINT UNSIGNED", kindInt},
		{"bigint", true, "BIGINT", kindInt},
		{"bit", false, "TINYINT(1)", kindBool},
		{"decimal(38,10)", false, "DECIMAL(38,10)", kindDecimal},
		{"real", false, "FLOAT", kindFloat32},
		{"nchar(3)", false, "CHAR(3)", kindText},
		{"nvarchar(4000)", false, "VARCHAR(4000)", kindText},
		{"nvarchar(max)", false, "LONGTEXT", kindText},
		{"nvarchar(max)", true, "VARCHAR(255)", kindText},
		{"varbinary(max)", false, "LONGBLOB", kindBytes},
		{"rowversion", false, "BINARY(8)", kindBytes},
		{"uniqueidentifier", true, "CHAR(36)", kindText},
		{"datetime2(6)", false, "DATETIME(6)", kindDateTime},
		{"datetimeoffset(3)", false, "DATETIME(3)", kindTimestampTZ},
		{"time(2)", false, "TIME(2)", kindTime},
	} {
		m, err := mapType("sqlserver", tt.typ, tt.key)
		if err != nil || m.ddl != tt.want || m.kind != tt.kind {
			t.Errorf("mapType(sqlserver, %s, key %v) = %+v, %v; want %s", tt.typ, tt.key, m, err, tt.want)
		}
	}
	for typ, want := range map[string]string{
		"datetime2(7)":   "make the source column datetime2(6)",
		"datetimeoffset": "make the source column datetimeoffset(6)",
		"hierarchyid":    "create the column yourself",
	} {
		if _, err := mapType("sqlserver", typ, false); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mapType(sqlserver, %s) = %v, want an error saying %q", typ, err, want)
		}
	}
}
