package mysql

import (
	"fmt"

	"github.com/syncd-dev/syncd/apply/plan"
)

// mapSQLServer maps a SQL Server type, as capture/sqlserver publishes it,
// onto a MySQL type that holds every value of it (docs/type-mapping.md),
// or returns an error naming the fix when there is none.
func mapSQLServer(typ string, key bool) (mapped, error) {
	t, err := plan.ParseMSSQLType(typ)
	if err != nil {
		return mapped{}, err
	}
	n := t.Arg(0, 1)
	switch t.Name {
	case "tinyint":
		return mapped{ddl: "TINYINT UNSIGNED", kind: kindInt}, nil
	case "smallint":
		return mapped{ddl: "SMALLINT", kind: kindInt}, nil
	case "int":
		return mapped{ddl: "INT", kind: kindInt}, nil
	case "bigint":
		return mapped{ddl: "BIGINT", kind: kindInt}, nil
	case "bit":
		return mapped{ddl: "TINYINT(1)", kind: kindBool}, nil
	case "decimal", "numeric":
		return mapped{ddl: fmt.Sprintf("DECIMAL(%d,%d)", t.Arg(0, 18), t.Arg(1, 0)), kind: kindDecimal}, nil
	case "money":
		return mapped{ddl: "DECIMAL(19,4)", kind: kindDecimal}, nil
	case "smallmoney":
		return mapped{ddl: "DECIMAL(10,4)", kind: kindDecimal}, nil
	case "real":
		return mapped{ddl: "FLOAT", kind: kindFloat32}, nil
	case "float":
		return mapped{ddl: "DOUBLE", kind: kindFloat}, nil
	case "char", "nchar":
		if t.Max || n > maxVarcharLen {
			return longText(key, typ), nil
		}
		if n <= 255 {
			return mapped{ddl: fmt.Sprintf("CHAR(%d)", n), kind: kindText, note: "MySQL strips CHAR's trailing spaces when read"}, nil
		}
		return mapped{ddl: fmt.Sprintf("VARCHAR(%d)", n), kind: kindText}, nil
	case "varchar", "nvarchar":
		if t.Max || n > maxVarcharLen {
			return longText(key, typ), nil
		}
		return mapped{ddl: fmt.Sprintf("VARCHAR(%d)", n), kind: kindText}, nil
	case "text", "ntext", "xml":
		return longText(key, typ), nil
	case "binary":
		if n <= 255 {
			return mapped{ddl: fmt.Sprintf("BINARY(%d)", n), kind: kindBytes}, nil
		}
		return mapped{ddl: fmt.Sprintf("VARBINARY(%d)", n), kind: kindBytes}, nil
	case "varbinary", "image":
		if !t.Max && t.Name == "varbinary" && n <= maxVarcharLen {
			return mapped{ddl: fmt.Sprintf("VARBINARY(%d)", n), kind: kindBytes}, nil
		}
		if key {
			return mapped{ddl: fmt.Sprintf("VARBINARY(%d)", keyVarcharLen), kind: kindBytes,
				note: "a key column cannot be a LONGBLOB; longer values are rejected"}, nil
		}
		return mapped{ddl: "LONGBLOB", kind: kindBytes}, nil
	case "timestamp", "rowversion":
		return mapped{ddl: "BINARY(8)", kind: kindBytes}, nil
	case "uniqueidentifier":
		return mapped{ddl: "CHAR(36)", kind: kindText}, nil
	case "date":
		return mapped{ddl: "DATE", kind: kindDate}, nil
	case "datetime":
		return mapped{ddl: "DATETIME(3)", kind: kindDateTime}, nil
	case "smalldatetime":
		return mapped{ddl: "DATETIME(0)", kind: kindDateTime}, nil
	case "time", "datetime2", "datetimeoffset":
		p, err := t.Microseconds("MySQL")
		if err != nil {
			return mapped{}, err
		}
		switch t.Name {
		case "time":
			return mapped{ddl: fmt.Sprintf("TIME(%d)", p), kind: kindTime}, nil
		case "datetime2":
			return mapped{ddl: fmt.Sprintf("DATETIME(%d)", p), kind: kindDateTime}, nil
		}
		return mapped{ddl: fmt.Sprintf("DATETIME(%d)", p), kind: kindTimestampTZ, note: "the instant is stored in UTC; the offset is not kept"}, nil
	}
	return mapped{}, fmt.Errorf("SQL Server type %s has no MySQL type that holds its values; create the column yourself and set create_tables = false, or leave the column out of the scope", typ)
}
