package sqlserver

import (
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply/plan"
)

// mapSQLServer maps the type of a SQL Server source column onto itself,
// but for the types a table cannot be given or that cannot be compared:
// rowversion (the server sets it) becomes BINARY(8), and the deprecated
// text, ntext and image their MAX types. The text is parsed first
// (plan.ParseMSSQLType), so nothing but a type name and numbers reaches
// DDL.
func mapSQLServer(typ string) (mapped, error) {
	t, err := plan.ParseMSSQLType(typ)
	if err != nil {
		return mapped{}, err
	}
	ddl := strings.ToUpper(typ)
	switch t.Name {
	case "tinyint", "smallint", "int", "bigint":
		return mapped{ddl: ddl, kind: kindInt}, nil
	case "bit":
		return mapped{ddl: ddl, kind: kindBool}, nil
	case "decimal", "numeric", "money", "smallmoney":
		return mapped{ddl: ddl, kind: kindDecimal}, nil
	case "real":
		return mapped{ddl: ddl, kind: kindFloat32}, nil
	case "float":
		return mapped{ddl: ddl, kind: kindFloat}, nil
	case "char", "varchar", "nchar", "nvarchar", "uniqueidentifier", "xml":
		return mapped{ddl: ddl, kind: kindText}, nil
	case "text":
		return mapped{ddl: "VARCHAR(MAX)", kind: kindText}, nil
	case "ntext":
		return mapped{ddl: "NVARCHAR(MAX)", kind: kindText}, nil
	case "binary", "varbinary":
		return mapped{ddl: ddl, kind: kindBytes}, nil
	case "image":
		return mapped{ddl: "VARBINARY(MAX)", kind: kindBytes}, nil
	case "timestamp", "rowversion":
		return mapped{ddl: "BINARY(8)", kind: kindBytes, note: "a rowversion column is set by the server; the source's values are kept as BINARY(8)"}, nil
	case "date":
		return mapped{ddl: ddl, kind: kindDate}, nil
	case "time":
		return mapped{ddl: ddl, kind: kindTime}, nil
	case "datetime", "datetime2", "smalldatetime":
		return mapped{ddl: ddl, kind: kindDateTime}, nil
	case "datetimeoffset":
		return mapped{ddl: ddl, kind: kindTimestampTZ, note: "the instant is kept, in UTC; the source's offset is not"}, nil
	}
	return mapped{}, fmt.Errorf("SQL Server type %s is not replicated by syncd; create the column yourself and set create_tables = false, or leave the column out of the scope", typ)
}
