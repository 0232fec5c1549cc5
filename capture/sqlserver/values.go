package sqlserver

import (
	"fmt"
	"strings"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/syncd-dev/syncd/capture"
)

// convert maps a value go-mssqldb scanned from a column of SQL Server type
// typ (columnFacts.typeName: "int", "nvarchar(50)", "datetime2(7)")
// onto the value types of capture.Event.
func convert(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	base, _, _ := strings.Cut(typ, "(")
	switch strings.ToLower(base) {
	case "tinyint", "smallint", "int":
		if n, ok := v.(int64); ok {
			return int32(n), nil
		}
	case "bigint":
		if n, ok := v.(int64); ok {
			return n, nil
		}
	case "bit":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "real":
		if f, ok := v.(float64); ok {
			return float32(f), nil
		}
		if f, ok := v.(float32); ok {
			return f, nil
		}
	case "float":
		if f, ok := v.(float64); ok {
			return f, nil
		}
	case "decimal", "numeric", "money", "smallmoney":
		if b, ok := v.([]byte); ok {
			return capture.Decimal(b), nil
		}
	case "uniqueidentifier":
		var u mssql.UniqueIdentifier
		if err := u.Scan(v); err != nil {
			return nil, fmt.Errorf("convert uniqueidentifier: %w", err)
		}
		return u.String(), nil
	case "date":
		if t, ok := v.(time.Time); ok {
			return t.Format("2006-01-02"), nil
		}
	case "time":
		if t, ok := v.(time.Time); ok {
			return t.Format("15:04:05.9999999"), nil
		}
	case "datetime", "datetime2", "smalldatetime":
		if t, ok := v.(time.Time); ok {
			return t.Format("2006-01-02T15:04:05.9999999"), nil
		}
	case "datetimeoffset":
		if t, ok := v.(time.Time); ok {
			return t.UTC(), nil
		}
	case "binary", "varbinary", "image", "timestamp", "rowversion":
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	default:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	}
	return nil, fmt.Errorf("convert %s: unexpected %T from the driver", typ, v)
}
