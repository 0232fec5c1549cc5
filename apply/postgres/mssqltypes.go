package postgres

import (
	"fmt"

	"github.com/syncd-dev/syncd/apply/plan"
)

// sqlserverType returns the PostgreSQL type create_tables gives a column
// of SQL Server type typ, as docs/type-mapping.md lists: a type that holds
// every value of the SQL Server type, or an error naming the fix when
// there is none (a fraction of a second in 100-nanosecond ticks, which
// PostgreSQL would round to microseconds; the CLR and variant types).
func sqlserverType(typ string) (string, error) {
	t, err := plan.ParseMSSQLType(typ)
	if err != nil {
		return "", err
	}
	length := func(name string) string {
		if t.Max || len(t.Args) == 0 {
			return "text"
		}
		return fmt.Sprintf("%s(%d)", name, t.Args[0])
	}
	switch t.Name {
	case "tinyint", "smallint":
		return "smallint", nil
	case "int":
		return "integer", nil
	case "bigint":
		return "bigint", nil
	case "bit":
		return "boolean", nil
	case "decimal", "numeric":
		return fmt.Sprintf("numeric(%d,%d)", t.Arg(0, 18), t.Arg(1, 0)), nil
	case "money":
		return "numeric(19,4)", nil
	case "smallmoney":
		return "numeric(10,4)", nil
	case "real":
		return "real", nil
	case "float":
		return "double precision", nil
	case "char", "nchar":
		return length("character"), nil
	case "varchar", "nvarchar":
		return length("character varying"), nil
	case "text", "ntext", "xml":
		return "text", nil
	case "binary", "varbinary", "image", "timestamp", "rowversion":
		return "bytea", nil
	case "uniqueidentifier":
		return "uuid", nil
	case "date":
		return "date", nil
	case "datetime":
		return "timestamp(3) without time zone", nil
	case "smalldatetime":
		return "timestamp(0) without time zone", nil
	case "time", "datetime2", "datetimeoffset":
		p, err := t.Microseconds("PostgreSQL")
		if err != nil {
			return "", err
		}
		switch t.Name {
		case "time":
			return fmt.Sprintf("time(%d) without time zone", p), nil
		case "datetime2":
			return fmt.Sprintf("timestamp(%d) without time zone", p), nil
		}
		return fmt.Sprintf("timestamp(%d) with time zone", p), nil
	}
	return "", fmt.Errorf("SQL Server type %s has no PostgreSQL type that holds its values; create the column yourself and set create_tables = false, or leave the column out of the scope", typ)
}
