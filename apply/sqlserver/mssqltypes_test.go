package sqlserver

import "testing"

// TestSQLServerToSQLServerTypes: a SQL Server source's types are kept, but
// for rowversion and the deprecated text types.
func TestSQLServerToSQLServerTypes(t *testing.T) {
	for typ, want := range map[string]string{
		"int": "INT", "nvarchar(50)": "NVARCHAR(50)", "nvarchar(max)": "NVARCHAR(MAX)", "decimal(10,2)": "DECIMAL(10,2)",
		"datetime2(7)": "DATETIME2(7)", "ntext": "NVARCHAR(MAX)", "image": "VARBINARY(MAX)", "rowversion": "BINARY(8)",
	} {
		if m, err := mapType("sqlserver", typ, false); err != nil || m.ddl != want {
			t.Errorf("mapType(sqlserver, %s) = %+v, %v; want %s", typ, m, err, want)
		}
	}
	for _, typ := range []string{"sql_variant", "geography", "int; DROP TABLE x"} {
		if _, err := mapType("sqlserver", typ, false); err == nil {
			t.Errorf("mapType(sqlserver, %q): no error", typ)
		}
	}
}
