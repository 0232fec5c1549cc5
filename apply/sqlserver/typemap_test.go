package sqlserver

// Layer 1: the type mapping of create_tables (docs/type-mapping.md, the
// SQL Server sections), no I/O. That SQL Server accepts each type and
// holds each value is realserver_test.go's to prove.

import (
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/scopes"
)

func TestMapType(t *testing.T) {
	const bin = " COLLATE " + textCollation
	for _, tt := range []struct {
		source, typ string
		key         bool
		want        string
		wantKind    kind
		wantErr     string
	}{
		{source: scopes.KindPostgres, typ: "smallint", want: "SMALLINT", wantKind: kindInt},
		{source: scopes.KindPostgres, typ: "integer", want: "INT", wantKind: kindInt},
		{source: scopes.KindPostgres, typ: "bigint", want: "BIGINT", wantKind: kindInt},
		{source: scopes.KindPostgres, typ: "numeric(10,2)", want: "DECIMAL(10,2)", wantKind: kindDecimal},
		{source: scopes.KindPostgres, typ: "numeric(38,0)", want: "DECIMAL(38,0)", wantKind: kindDecimal},
		{source: scopes.KindPostgres, typ: "numeric(39,0)", wantErr: "does not fit SQL Server's DECIMAL"},
		{source: scopes.KindPostgres, typ: "numeric(5,-2)", wantErr: "does not fit"},
		{source: scopes.KindPostgres, typ: "numeric", want: "DECIMAL(38,18)", wantKind: kindDecimal},
		{source: scopes.KindPostgres, typ: "real", want: "REAL", wantKind: kindFloat32},
		{source: scopes.KindPostgres, typ: "double precision", want: "FLOAT", wantKind: kindFloat},
		{source: scopes.KindPostgres, typ: "boolean", want: "BIT", wantKind: kindBool},
		{source: scopes.KindPostgres, typ: "text", want: "NVARCHAR(MAX)" + bin, wantKind: kindText},
		{source: scopes.KindPostgres, typ: "text", key: true, want: "NVARCHAR(450)" + bin, wantKind: kindText},
		{source: scopes.KindPostgres, typ: "character varying(100)", want: "NVARCHAR(100)" + bin, wantKind: kindText},
		{source: scopes.KindPostgres, typ: "character varying(4001)", want: "NVARCHAR(MAX)" + bin, wantKind: kindText},
		{source: scopes.KindPostgres, typ: "character varying(500)", key: true, want: "NVARCHAR(450)" + bin, wantKind: kindText},
		{source: scopes.KindPostgres, typ: "character(3)", want: "NCHAR(3)" + bin, wantKind: kindText},
		{source: scopes.KindPostgres, typ: "bytea", want: "VARBINARY(MAX)", wantKind: kindBytes},
		{source: scopes.KindPostgres, typ: "bytea", key: true, want: "VARBINARY(900)", wantKind: kindBytes},
		{source: scopes.KindPostgres, typ: "date", want: "DATE", wantKind: kindDate},
		{source: scopes.KindPostgres, typ: "timestamp without time zone", want: "DATETIME2(6)", wantKind: kindDateTime},
		{source: scopes.KindPostgres, typ: "timestamp(3) with time zone", want: "DATETIMEOFFSET(3)", wantKind: kindTimestampTZ},
		{source: scopes.KindPostgres, typ: "time without time zone", want: "TIME(6)", wantKind: kindTime},
		{source: scopes.KindPostgres, typ: "time with time zone", want: "NVARCHAR(MAX)" + bin, wantKind: kindText},
		{source: scopes.KindPostgres, typ: "uuid", want: "UNIQUEIDENTIFIER", wantKind: kindText},
		{source: scopes.KindPostgres, typ: "jsonb", want: "NVARCHAR(MAX)", wantKind: kindJSON},
		{source: scopes.KindPostgres, typ: "jsonb", key: true, wantErr: "cannot be a key column"},
		{source: scopes.KindPostgres, typ: "integer[]", want: "NVARCHAR(MAX)", wantKind: kindJSON},
		{source: scopes.KindPostgres, typ: "integer[]", key: true, wantErr: "cannot be a key column"},
		{source: scopes.KindPostgres, typ: "interval", want: "NVARCHAR(64)" + bin, wantKind: kindText},
		{source: scopes.KindPostgres, typ: "bit(3)", want: "NVARCHAR(MAX)" + bin, wantKind: kindText},
		{source: scopes.KindPostgres, typ: "mood", want: "NVARCHAR(MAX)" + bin, wantKind: kindText},
		{source: scopes.KindMySQL, typ: "tinyint", want: "SMALLINT", wantKind: kindInt},
		{source: scopes.KindMySQL, typ: "tinyint unsigned", want: "TINYINT", wantKind: kindInt},
		{source: scopes.KindMySQL, typ: "smallint unsigned", want: "INT", wantKind: kindInt},
		{source: scopes.KindMySQL, typ: "mediumint unsigned", want: "INT", wantKind: kindInt},
		{source: scopes.KindMySQL, typ: "int unsigned", want: "BIGINT", wantKind: kindInt},
		{source: scopes.KindMySQL, typ: "bigint", want: "BIGINT", wantKind: kindInt},
		{source: scopes.KindMySQL, typ: "bigint unsigned", want: "DECIMAL(20,0)", wantKind: kindUint},
		{source: scopes.KindMySQL, typ: "year", want: "SMALLINT", wantKind: kindInt},
		{source: scopes.KindMySQL, typ: "decimal(10,2)", want: "DECIMAL(10,2)", wantKind: kindDecimal},
		{source: scopes.KindMySQL, typ: "decimal(65,30)", wantErr: "does not fit"},
		{source: scopes.KindMySQL, typ: "float", want: "REAL", wantKind: kindFloat32},
		{source: scopes.KindMySQL, typ: "double", want: "FLOAT", wantKind: kindFloat},
		{source: scopes.KindMySQL, typ: "bit(5)", want: "VARCHAR(5)" + bin, wantKind: kindText},
		{source: scopes.KindMySQL, typ: "enum('a','b')", want: "NVARCHAR(MAX)" + bin, wantKind: kindText},
		{source: scopes.KindMySQL, typ: "set('x')", key: true, want: "NVARCHAR(450)" + bin, wantKind: kindText},
		{source: scopes.KindMySQL, typ: "varchar(50)", want: "NVARCHAR(50)" + bin, wantKind: kindText},
		{source: scopes.KindMySQL, typ: "longtext", want: "NVARCHAR(MAX)" + bin, wantKind: kindText},
		{source: scopes.KindMySQL, typ: "binary(4)", want: "BINARY(4)", wantKind: kindBytes},
		{source: scopes.KindMySQL, typ: "varbinary(16)", want: "VARBINARY(16)", wantKind: kindBytes},
		{source: scopes.KindMySQL, typ: "blob", want: "VARBINARY(MAX)", wantKind: kindBytes},
		{source: scopes.KindMySQL, typ: "geometry", want: "VARBINARY(MAX)", wantKind: kindBytes},
		{source: scopes.KindMySQL, typ: "date", want: "DATE", wantKind: kindDate},
		{source: scopes.KindMySQL, typ: "datetime(6)", want: "DATETIME2(6)", wantKind: kindDateTime},
		{source: scopes.KindMySQL, typ: "timestamp(6)", want: "DATETIMEOFFSET(6)", wantKind: kindTimestampTZ},
		{source: scopes.KindMySQL, typ: "time(6)", want: "NVARCHAR(20)" + bin, wantKind: kindText},
		{source: scopes.KindMySQL, typ: "json", want: "NVARCHAR(MAX)", wantKind: kindJSON},
		{source: scopes.KindMySQL, typ: "int; DROP TABLE x", wantErr: "cannot read MySQL type"},
		{source: "oracle", typ: "number", wantErr: "no type mapping"},
	} {
		m, err := mapType(tt.source, tt.typ, tt.key)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s %q key=%v: error %v, want one with %q", tt.source, tt.typ, tt.key, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q key=%v: %v", tt.source, tt.typ, tt.key, err)
			continue
		}
		if m.ddl != tt.want || m.kind != tt.wantKind {
			t.Errorf("%s %q key=%v = %s (kind %d), want %s (kind %d)", tt.source, tt.typ, tt.key, m.ddl, m.kind, tt.want, tt.wantKind)
		}
	}
}

// TestCreateTableSQL: the DDL create_tables sends, names quoted; a type
// SQL Server cannot represent fails naming the column, before any DDL.
func TestCreateTableSQL(t *testing.T) {
	ts := applytest.Schema("sa]les.or]ders", []string{"id", "code"}, "id bigint", "code text", "total numeric(12,2)", "at timestamptz")
	got, err := createTableSQL(tableName{schema: "sa]les", name: "or]ders"}, ts, nopLog{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "create_table.sql", got+";\n")
	bad := applytest.Schema("t", []string{"id"}, "id integer", "big numeric(50,2)")
	if _, err := createTableSQL(tableName{name: "t"}, bad, nopLog{}); err == nil || !strings.Contains(err.Error(), "column big") {
		t.Errorf("numeric(50,2): error %v, want one naming column big", err)
	}
	add, err := addColumnsSQL(tableName{name: "t"}, ts, []string{"code", "at"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ALTER TABLE [t] ADD [code] NVARCHAR(MAX) COLLATE " + textCollation + " NULL, [at] DATETIMEOFFSET(6) NULL"; add != want {
		t.Errorf("add columns = %s, want %s", add, want)
	}
}

type nopLog struct{}

func (nopLog) Info(string, ...any) {}
