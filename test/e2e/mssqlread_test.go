package e2e

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/syncd-dev/syncd/test/tdsfake"
	"github.com/syncd-dev/syncd/test/testenv"
)

// msRows runs query on a SQL Server and returns its rows as
// testenv.Rows does, each value written by msText from the Go value
// go-mssqldb scans and the column's type: the layer-4 tests read a SQL
// Server target with it, without relying on CONVERT's styles.
func msRows(db *sql.DB, query string, args ...any) ([]string, error) {
	return testenv.RowsWith(db, func(c *sql.ColumnType, v any) (string, error) { return msText(c.DatabaseTypeName(), v) }, query, args...)
}

// msText writes v, scanned by go-mssqldb from a column whose
// DatabaseTypeName is typ, as text: "∅" for NULL; dates as
// 2006-01-02, times as 15:04:05 with the fraction's significant digits,
// datetimeoffset with its offset; decimals and money as the digits the
// driver returns; uniqueidentifier in its canonical upper-case form;
// binary as upper-case hex; floats in their shortest form at their width.
func msText(typ string, v any) (string, error) {
	if v == nil {
		return "∅", nil
	}
	switch x := v.(type) {
	case time.Time:
		switch typ {
		case "DATE":
			return x.Format("2006-01-02"), nil
		case "TIME":
			return x.Format("15:04:05.9999999"), nil
		case "DATETIMEOFFSET":
			return x.Format("2006-01-02 15:04:05.9999999 -07:00"), nil
		}
		return x.Format("2006-01-02 15:04:05.9999999"), nil
	case []byte:
		switch typ {
		case "DECIMAL", "NUMERIC", "MONEY", "SMALLMONEY":
			return string(x), nil
		case "UNIQUEIDENTIFIER":
			var u mssql.UniqueIdentifier
			if err := u.Scan(x); err != nil {
				return "", err
			}
			return u.String(), nil
		}
		return strings.ToUpper(hex.EncodeToString(x)), nil
	case float64:
		if typ == "REAL" {
			return strconv.FormatFloat(x, 'g', -1, 32), nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case bool:
		return strconv.FormatBool(x), nil
	case string:
		return x, nil
	}
	return "", fmt.Errorf("%s value %T", typ, v)
}

// msColumnTypes maps the columns of table (schema.table) at a SQL
// Server to their types as T-SQL writes them: decimal(38,10),
// nvarchar(max), datetime2(6) (sys.columns: max_length in bytes, -1 for
// max;
// https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-columns-transact-sql;
// TYPE_NAME:
// https://learn.microsoft.com/en-us/sql/t-sql/functions/type-name-transact-sql).
func msColumnTypes(db *sql.DB, table string) (map[string]string, error) {
	rows, err := db.Query(`SELECT c.name, TYPE_NAME(c.user_type_id), c.max_length, c.precision, c.scale
FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(@p1) ORDER BY c.column_id`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var name, typ string
		var maxLen, prec, scale int64
		if err := rows.Scan(&name, &typ, &maxLen, &prec, &scale); err != nil {
			return nil, err
		}
		m[name] = msTypeName(typ, maxLen, prec, scale)
	}
	return m, rows.Err()
}

// msTypeName writes a sys.columns type as T-SQL does.
func msTypeName(typ string, maxLen, prec, scale int64) string {
	length := func(unit int64) string {
		if maxLen == -1 {
			return typ + "(max)"
		}
		return fmt.Sprintf("%s(%d)", typ, maxLen/unit)
	}
	switch typ {
	case "char", "varchar", "binary", "varbinary":
		return length(1)
	case "nchar", "nvarchar":
		return length(2)
	case "decimal", "numeric":
		return fmt.Sprintf("%s(%d,%d)", typ, prec, scale)
	case "time", "datetime2", "datetimeoffset":
		return fmt.Sprintf("%s(%d)", typ, scale)
	}
	return typ
}

// TestMSRowsOverTDS (layer 3) runs msRows, which the layer-4 tests read
// SQL Server targets with, over the TDS wire FAKE: each TDS type the
// fake sends as [MS-TDS] encodes it, through go-mssqldb, comes out as
// the text those tests expect. It checks the reader, not SQL Server.
func TestMSRowsOverTDS(t *testing.T) {
	cols := []tdsfake.Type{tdsfake.Int1, tdsfake.Int2, tdsfake.Int4, tdsfake.Int8, tdsfake.Bit, tdsfake.Decimal(38, 10),
		tdsfake.Money, tdsfake.Real, tdsfake.Float8, tdsfake.NVarchar, tdsfake.Varchar, tdsfake.Varbinary, tdsfake.Binary,
		tdsfake.GUID, tdsfake.Date, tdsfake.DateTime, tdsfake.DateTime2Scale(6), tdsfake.Time(6), tdsfake.DateTimeOffset(6)}
	row := []any{int64(255), int64(-32768), int64(-2147483648), int64(-9223372036854775808), true, "-9999999999999999999999999999.9999999999",
		"922337203685477.5807", float64(float32(-3.4028235e+38)), 2.2250738585072014e-308, "😀 中文", "é€", []byte{0, 0xFF}, []byte{0x61, 0, 0, 0},
		"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", time.Date(1, 1, 1, 0, 0, 0, 0, utc), time.Date(9999, 12, 31, 23, 59, 59, 997_000_000, utc),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, utc), time.Date(1, 1, 1, 23, 59, 59, 999_999_000, utc),
		time.Date(2024, 1, 2, 3, 4, 5, 123_456_000, plus14)}
	nulls := make([]any, len(cols))
	f := tdsfake.New(t, map[string]tdsfake.Result{"SELECT * FROM t": {Cols: cols, Rows: [][]any{row, nulls}}})
	db, err := sql.Open("sqlserver", f.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := msRows(db, "SELECT * FROM t")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{strings.Join([]string{"255", "-32768", "-2147483648", "-9223372036854775808", "true", "-9999999999999999999999999999.9999999999",
		"922337203685477.5807", "-3.4028235e+38", "2.2250738585072014e-308", "😀 中文", "é€", "00FF", "61000000",
		"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "0001-01-01", "9999-12-31 23:59:59.997",
		"9999-12-31 23:59:59.999999", "23:59:59.999999", "2024-01-02 03:04:05.123456 +14:00"}, "|"),
		strings.Repeat("∅|", len(cols)-1) + "∅"}
	if !slices.Equal(got, want) {
		t.Errorf("msRows over the fake:\n got %q\nwant %q", got, want)
	}
}
