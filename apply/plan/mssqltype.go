package plan

import (
	"fmt"
	"regexp"
	"strconv"
)

// MSSQLType is a SQL Server column type as capture/sqlserver publishes it
// ("int", "nvarchar(50)", "nvarchar(max)", "decimal(10,2)",
// "datetime2(7)"), for the targets that map it onto their own types.
type MSSQLType struct {
	Name string
	Max  bool  // (max)
	Args []int // length (characters for nchar and nvarchar), precision and scale, or fractional second digits
}

var mssqlTypeRE = regexp.MustCompile(`^([a-z0-9_]+)(?:\((max|\d+)(?:,(\d+))?\))?$`)

// ParseMSSQLType reads a published SQL Server type.
func ParseMSSQLType(typ string) (MSSQLType, error) {
	m := mssqlTypeRE.FindStringSubmatch(typ)
	if m == nil {
		return MSSQLType{}, fmt.Errorf("cannot read SQL Server type %q", typ)
	}
	t := MSSQLType{Name: m[1], Max: m[2] == "max"}
	for _, a := range m[2:] {
		if n, err := strconv.Atoi(a); err == nil {
			t.Args = append(t.Args, n)
		}
	}
	return t, nil
}

// Arg returns argument i, or def without it.
func (t MSSQLType) Arg(i, def int) int {
	if i < len(t.Args) {
		return t.Args[i]
	}
	return def
}

// Microseconds returns the fractional second digits of a time, datetime2
// or datetimeoffset type (7, SQL Server's default, without any), or an
// error naming the fix when there are more than the 6 that PostgreSQL
// and MySQL keep: syncd does not round a value (docs/type-mapping.md).
func (t MSSQLType) Microseconds(target string) (int, error) {
	p := t.Arg(0, 7)
	if p > 6 {
		return 0, fmt.Errorf("SQL Server type %s(%d) keeps 100-nanosecond ticks, %s microseconds, and syncd does not round values: make the source column %s(6), or create the target column yourself and set create_tables = false", t.Name, p, target, t.Name)
	}
	return p, nil
}
