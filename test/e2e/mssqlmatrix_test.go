package e2e

import (
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/tdsfake"
	"github.com/syncd-dev/syncd/test/testenv"
)

// The SQL Server type matrix, SQL Server → PostgreSQL and MariaDB: one
// column of every SQL Server type docs/type-mapping.md maps, with edge
// values, in table dbo.matrix (id int PRIMARY KEY). Rows 1 and 2 hold
// the edge values, row 3 NULL in every column. Two tests run it:
//
//   - TestSQLServerTypeMatrixOverTDS (layer 3, runs in make test): the
//     syncd binary's SQL Server source reads the matrix from the TDS wire
//     FAKE, which describes each column in sys.columns as a server would
//     and sends each value in the TDS type [MS-TDS] gives that column
//     type (test/tdsfake/types.go) (char and varchar as BIGVARCHAR, nchar and nvarchar(max) as
//     NVARCHAR(4000), which go-mssqldb decodes as it decodes a server's
//     BIGCHAR, NCHAR and PLP NVARCHAR(MAX)), into real PostgreSQL and MariaDB
//     targets whose tables create_tables makes. It proves go-mssqldb's
//     decoding of those TDS encodings, syncd's conversion of the values,
//     the types create_tables picks, and what the real targets hold. It
//     does not prove that SQL Server sends these encodings for these
//     columns, nor its values for the literals below: the fake sends what
//     it was taught.
//   - TestRealServerTypeMatrixFromSQLServer (layer 4, make
//     test-sqlserver, NEVER run): the same columns created on a real SQL
//     Server from their T-SQL literals, copied and then streamed by change
//     tracking, checked against the same expectations.
//
// Microsoft's documentation of the types and literals relied on:
//   - int, bigint, smallint, tinyint (ranges):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/int-bigint-smallint-and-tinyint-transact-sql
//   - bit ("converting to bit promotes any nonzero value to 1"):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/bit-transact-sql
//   - decimal and numeric (precision 1-38, scale 0-p):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/decimal-and-numeric-transact-sql
//   - money and smallmoney (-922,337,203,685,477.5808 to 922,337,203,685,477.5807;
//     -214,748.3648 to 214,748.3647):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/money-and-smallmoney-transact-sql
//   - float and real (-1.79E+308 … 1.79E+308, real 4 bytes):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/float-and-real-transact-sql
//   - char and varchar ("fixed-size … n bytes", padded), nchar and nvarchar
//     (n byte-pairs, UTF-16 surrogate pairs take two), (max) up to 2^31-1 bytes:
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/char-and-varchar-transact-sql,
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/nchar-and-nvarchar-transact-sql
//   - binary and varbinary ("When n isn't specified … 1"; binary pads with 0x00):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/binary-and-varbinary-transact-sql
//   - uniqueidentifier (the xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx character form):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/uniqueidentifier-transact-sql
//   - date (0001-01-01 through 9999-12-31):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/date-transact-sql
//   - datetime (1753-01-01 through 9999-12-31, "rounded to increments of .000, .003, or .007"):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/datetime-transact-sql
//   - smalldatetime (1900-01-01 through 2079-06-06, to the minute):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/smalldatetime-transact-sql
//   - datetime2 (fractional seconds precision 0-7, default 7; the ISO 8601
//     literal YYYY-MM-DDThh:mm:ss[.nnnnnnn]):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/datetime2-transact-sql
//   - time (00:00:00.0000000 through 23:59:59.9999999, default scale 7):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/time-transact-sql
//   - datetimeoffset (offset -14:00 through +14:00; "stored … in UTC"):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/datetimeoffset-transact-sql
//   - rowversion ("automatically generated, unique binary numbers", 8 bytes,
//     timestamp its synonym, not nullable in practice: the server sets it):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/rowversion-transact-sql
//   - xml, and ntext, text, image (deprecated):
//     https://learn.microsoft.com/en-us/sql/t-sql/xml/xml-transact-sql,
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/ntext-text-and-image-transact-sql
//   - sql_variant, geography, hierarchyid (which no target can hold):
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/sql-variant-transact-sql,
//     https://learn.microsoft.com/en-us/sql/t-sql/spatial-geography/spatial-types-geography,
//     https://learn.microsoft.com/en-us/sql/t-sql/data-types/hierarchyid-data-type-method-reference
//   - REPLICATE: https://learn.microsoft.com/en-us/sql/t-sql/functions/replicate-transact-sql
//   - TYPE_NAME and sys.columns (max_length in bytes, -1 for (max)), which
//     the fake answers as the source's columnsSQL reads them:
//     https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-columns-transact-sql

// msCol is one column of dbo.matrix.
type msCol struct {
	name string
	def  string // its T-SQL type, as TYPE_NAME and sys.columns give it back
	// lits are the T-SQL literals of rows 1, 2 and 3 ("" for NULL).
	lits [3]string
	// tds and vals are how the fake sends the column and its values
	// (nil: NULL); a column with tds 0 and no vals is layer 4 only (the
	// fake speaks no such TDS type).
	tds  tdsfake.Type
	vals [3]any
	// pgType and myType are the types create_tables gives the column
	// (format_type at PostgreSQL, COLUMN_TYPE at MariaDB).
	pgType, myType string
	// pgRead and myRead read the column as text (over %[1]s; "" for the
	// column itself); pg and my are what they read of rows 1, 2 and 3
	// (testenv.Rows' "∅" for NULL; "" in row 3 is NULL too).
	pgRead, myRead string
	pg, my         [3]string
}

// layer3 reports whether the fake can send the column.
func (c msCol) layer3() bool { return c.vals != [3]any{} || c.tds != 0 }

var (
	utc      = time.UTC
	plus14   = time.FixedZone("", 14*3600)
	minus14  = time.FixedZone("", -14*3600)
	longText = strings.Repeat("ж", 1000)
	msMatrix = []msCol{
		{name: "ti", def: "tinyint", lits: [3]string{"0", "255"}, tds: tdsfake.Int1, vals: [3]any{int64(0), int64(255)},
			pgType: "smallint", myType: "tinyint(3) unsigned", pg: [3]string{"0", "255"}, my: [3]string{"0", "255"}},
		{name: "si", def: "smallint", lits: [3]string{"-32768", "32767"}, tds: tdsfake.Int2, vals: [3]any{int64(-32768), int64(32767)},
			pgType: "smallint", myType: "smallint(6)", pg: [3]string{"-32768", "32767"}, my: [3]string{"-32768", "32767"}},
		{name: "i", def: "int", lits: [3]string{"-2147483648", "2147483647"}, tds: tdsfake.Int4, vals: [3]any{int64(-2147483648), int64(2147483647)},
			pgType: "integer", myType: "int(11)", pg: [3]string{"-2147483648", "2147483647"}, my: [3]string{"-2147483648", "2147483647"}},
		{name: "bi", def: "bigint", lits: [3]string{"-9223372036854775808", "9223372036854775807"}, tds: tdsfake.Int8, vals: [3]any{int64(-9223372036854775808), int64(9223372036854775807)},
			pgType: "bigint", myType: "bigint(20)", pg: [3]string{"-9223372036854775808", "9223372036854775807"}, my: [3]string{"-9223372036854775808", "9223372036854775807"}},
		{name: "b", def: "bit", lits: [3]string{"0", "1"}, tds: tdsfake.Bit, vals: [3]any{false, true},
			pgType: "boolean", myType: "tinyint(1)", pg: [3]string{"false", "true"}, my: [3]string{"0", "1"}},
		{name: "d38", def: "decimal(38,10)", lits: [3]string{"-9999999999999999999999999999.9999999999", "0.0000000001"},
			tds: tdsfake.Decimal(38, 10), vals: [3]any{"-9999999999999999999999999999.9999999999", "0.0000000001"},
			pgType: "numeric(38,10)", myType: "decimal(38,10)",
			pg: [3]string{"-9999999999999999999999999999.9999999999", "0.0000000001"}, my: [3]string{"-9999999999999999999999999999.9999999999", "0.0000000001"}},
		{name: "d380", def: "decimal(38,0)", lits: [3]string{"99999999999999999999999999999999999999", "-1"},
			tds: tdsfake.Decimal(38, 0), vals: [3]any{"99999999999999999999999999999999999999", "-1"},
			pgType: "numeric(38,0)", myType: "decimal(38,0)",
			pg: [3]string{"99999999999999999999999999999999999999", "-1"}, my: [3]string{"99999999999999999999999999999999999999", "-1"}},
		{name: "n52", def: "numeric(5,2)", lits: [3]string{"-999.99", "0.10"}, tds: tdsfake.Decimal(5, 2), vals: [3]any{"-999.99", "0.10"},
			pgType: "numeric(5,2)", myType: "decimal(5,2)", pg: [3]string{"-999.99", "0.10"}, my: [3]string{"-999.99", "0.10"}},
		{name: "m", def: "money", lits: [3]string{"-922337203685477.5808", "922337203685477.5807"},
			tds: tdsfake.Money, vals: [3]any{"-922337203685477.5808", "922337203685477.5807"},
			pgType: "numeric(19,4)", myType: "decimal(19,4)",
			pg: [3]string{"-922337203685477.5808", "922337203685477.5807"}, my: [3]string{"-922337203685477.5808", "922337203685477.5807"}},
		{name: "sm", def: "smallmoney", lits: [3]string{"-214748.3648", "214748.3647"}, tds: tdsfake.SmallMoney, vals: [3]any{"-214748.3648", "214748.3647"},
			pgType: "numeric(10,4)", myType: "decimal(10,4)", pg: [3]string{"-214748.3648", "214748.3647"}, my: [3]string{"-214748.3648", "214748.3647"}},
		// real and float: the extremes of each, read back as the double
		// each target holds (MariaDB's FLOAT widened to DOUBLE).
		{name: "r", def: "real", lits: [3]string{"-3.40282347E+38", "1.17549435E-38"}, tds: tdsfake.Real,
			vals:   [3]any{float64(float32(-3.40282347e+38)), float64(float32(1.17549435e-38))},
			pgType: "real", myType: "float", myRead: "CAST(CAST(%[1]s AS DOUBLE) AS CHAR)",
			pg: [3]string{"-3.4028235e+38", "1.1754944e-38"}, my: [3]string{"-3.4028234663852886e38", "1.1754943508222875e-38"}},
		{name: "f", def: "float", lits: [3]string{"-1.7976931348623157E+308", "2.2250738585072014E-308"}, tds: tdsfake.Float8,
			vals:   [3]any{-1.7976931348623157e+308, 2.2250738585072014e-308},
			pgType: "double precision", myType: "double",
			pg: [3]string{"-1.7976931348623157e+308", "2.2250738585072014e-308"}, my: [3]string{"-1.7976931348623157e+308", "2.2250738585072014e-308"}},
		// char(n) comes padded with spaces to n; PostgreSQL's character(n)
		// keeps the padding (concat shows it), MariaDB's CHAR drops it
		// when read.
		{name: "c", def: "char(10)", lits: [3]string{"'abc'", "''"}, tds: tdsfake.Varchar, vals: [3]any{"abc       ", "          "},
			pgType: "character(10)", myType: "char(10)", pgRead: "concat('[', %[1]s, ']')", myRead: "concat('[', %[1]s, ']')",
			pg: [3]string{"[abc       ]", "[          ]", "[]"}, my: [3]string{"[abc]", "[]"}},
		// nchar(4) counts UTF-16 code units: 😀 takes two, so 'ñü😀' fills
		// it; PostgreSQL's character(4) counts characters and pads it with one
		// space. The fake sends it as NVARCHAR (the same UTF-16; a server
		// sends NCHAR).
		{name: "nc", def: "nchar(4)", lits: [3]string{"N'ñü😀'", "N'a'"}, tds: tdsfake.NVarchar, vals: [3]any{"ñü😀", "a   "},
			pgType: "character(4)", myType: "char(4)", pgRead: "concat('[', %[1]s, ']')", myRead: "concat('[', %[1]s, ']')",
			pg: [3]string{"[ñü😀 ]", "[a   ]", "[]"}, my: [3]string{"[ñü😀]", "[a]"}},
		{name: "vc", def: "varchar(20)", lits: [3]string{"'Windows-1252: é€'", "''"}, tds: tdsfake.Varchar, vals: [3]any{"Windows-1252: é€", ""},
			pgType: "character varying(20)", myType: "varchar(20)", pg: [3]string{"Windows-1252: é€", ""}, my: [3]string{"Windows-1252: é€", ""}},
		{name: "nv", def: "nvarchar(50)", lits: [3]string{"N'😀 中文 ✓ it''s'", "N''"}, tds: tdsfake.NVarchar, vals: [3]any{"😀 中文 ✓ it's", ""},
			pgType: "character varying(50)", myType: "varchar(50)", pg: [3]string{"😀 中文 ✓ it's", ""}, my: [3]string{"😀 中文 ✓ it's", ""}},
		{name: "nvm", def: "nvarchar(max)", lits: [3]string{"REPLICATE(N'ж', 1000)", "N'x'"}, tds: tdsfake.NVarchar, vals: [3]any{longText, "x"},
			pgType: "text", myType: "longtext", pg: [3]string{longText, "x"}, my: [3]string{longText, "x"}},
		{name: "vb", def: "varbinary(16)", lits: [3]string{"0x00FF00", "0x"}, tds: tdsfake.Varbinary, vals: [3]any{[]byte{0, 0xFF, 0}, []byte{}},
			pgType: "bytea", myType: "varbinary(16)", pgRead: "encode(%[1]s, 'hex')", myRead: "HEX(%[1]s)",
			pg: [3]string{"00ff00", ""}, my: [3]string{"00FF00", ""}},
		// binary(4) pads with 0x00 to 4 bytes.
		{name: "bn", def: "binary(4)", lits: [3]string{"0x61", "0xFFFFFFFF"}, tds: tdsfake.Binary, vals: [3]any{[]byte{0x61, 0, 0, 0}, []byte{0xFF, 0xFF, 0xFF, 0xFF}},
			pgType: "bytea", myType: "binary(4)", pgRead: "encode(%[1]s, 'hex')", myRead: "HEX(%[1]s)",
			pg: [3]string{"61000000", "ffffffff"}, my: [3]string{"61000000", "FFFFFFFF"}},
		{name: "vbm", def: "varbinary(max)", lits: [3]string{"0x000102", "0x"}, tds: tdsfake.Varbinary, vals: [3]any{[]byte{0, 1, 2}, []byte{}},
			pgType: "bytea", myType: "longblob", pgRead: "encode(%[1]s, 'hex')", myRead: "HEX(%[1]s)",
			pg: [3]string{"000102", ""}, my: [3]string{"000102", ""}},
		{name: "u", def: "uniqueidentifier", lits: [3]string{"'6F9619FF-8B86-D011-B42D-00C04FC964FF'", "'00000000-0000-0000-0000-000000000000'"},
			tds: tdsfake.GUID, vals: [3]any{"6F9619FF-8B86-D011-B42D-00C04FC964FF", "00000000-0000-0000-0000-000000000000"},
			pgType: "uuid", myType: "char(36)",
			pg: [3]string{"6f9619ff-8b86-d011-b42d-00c04fc964ff", "00000000-0000-0000-0000-000000000000"},
			my: [3]string{"6F9619FF-8B86-D011-B42D-00C04FC964FF", "00000000-0000-0000-0000-000000000000"}},
		{name: "dt", def: "date", lits: [3]string{"'0001-01-01'", "'9999-12-31'"}, tds: tdsfake.Date,
			vals:   [3]any{time.Date(1, 1, 1, 0, 0, 0, 0, utc), time.Date(9999, 12, 31, 0, 0, 0, 0, utc)},
			myRead: "CAST(%[1]s AS CHAR)", pgType: "date", myType: "date", pg: [3]string{"0001-01-01", "9999-12-31"}, my: [3]string{"0001-01-01", "9999-12-31"}},
		// datetime keeps 1/300 s: .997 is its last tick of a day.
		{name: "dtm", def: "datetime", lits: [3]string{"'1753-01-01T00:00:00'", "'9999-12-31T23:59:59.997'"}, tds: tdsfake.DateTime,
			vals:   [3]any{time.Date(1753, 1, 1, 0, 0, 0, 0, utc), time.Date(9999, 12, 31, 23, 59, 59, 997_000_000, utc)},
			myRead: "CAST(%[1]s AS CHAR)", pgType: "timestamp(3) without time zone", myType: "datetime(3)",
			pg: [3]string{"1753-01-01 00:00:00", "9999-12-31 23:59:59.997"}, my: [3]string{"1753-01-01 00:00:00.000", "9999-12-31 23:59:59.997"}},
		{name: "sdt", def: "smalldatetime", lits: [3]string{"'1900-01-01T00:00:00'", "'2079-06-06T23:59:00'"}, tds: tdsfake.SmallDateTime,
			vals:   [3]any{time.Date(1900, 1, 1, 0, 0, 0, 0, utc), time.Date(2079, 6, 6, 23, 59, 0, 0, utc)},
			myRead: "CAST(%[1]s AS CHAR)", pgType: "timestamp(0) without time zone", myType: "datetime",
			pg: [3]string{"1900-01-01 00:00:00", "2079-06-06 23:59:00"}, my: [3]string{"1900-01-01 00:00:00", "2079-06-06 23:59:00"}},
		{name: "d26", def: "datetime2(6)", lits: [3]string{"'0001-01-01T00:00:00'", "'9999-12-31T23:59:59.999999'"}, tds: tdsfake.DateTime2Scale(6),
			vals:   [3]any{time.Date(1, 1, 1, 0, 0, 0, 0, utc), time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, utc)},
			myRead: "CAST(%[1]s AS CHAR)", pgType: "timestamp(6) without time zone", myType: "datetime(6)",
			pg: [3]string{"0001-01-01 00:00:00", "9999-12-31 23:59:59.999999"}, my: [3]string{"0001-01-01 00:00:00.000000", "9999-12-31 23:59:59.999999"}},
		{name: "d20", def: "datetime2(0)", lits: [3]string{"'2024-02-29T12:34:56'", "'1970-01-01T00:00:00'"}, tds: tdsfake.DateTime2Scale(0),
			vals:   [3]any{time.Date(2024, 2, 29, 12, 34, 56, 0, utc), time.Date(1970, 1, 1, 0, 0, 0, 0, utc)},
			myRead: "CAST(%[1]s AS CHAR)", pgType: "timestamp(0) without time zone", myType: "datetime",
			pg: [3]string{"2024-02-29 12:34:56", "1970-01-01 00:00:00"}, my: [3]string{"2024-02-29 12:34:56", "1970-01-01 00:00:00"}},
		{name: "tm6", def: "time(6)", lits: [3]string{"'00:00:00'", "'23:59:59.999999'"}, tds: tdsfake.Time(6),
			vals:   [3]any{time.Date(1, 1, 1, 0, 0, 0, 0, utc), time.Date(1, 1, 1, 23, 59, 59, 999_999_000, utc)},
			pgType: "time(6) without time zone", myType: "time(6)",
			pg: [3]string{"00:00:00", "23:59:59.999999"}, my: [3]string{"00:00:00.000000", "23:59:59.999999"}},
		{name: "tm3", def: "time(3)", lits: [3]string{"'12:00:00.5'", "'00:00:00.001'"}, tds: tdsfake.Time(3),
			vals:   [3]any{time.Date(1, 1, 1, 12, 0, 0, 500_000_000, utc), time.Date(1, 1, 1, 0, 0, 0, 1_000_000, utc)},
			pgType: "time(3) without time zone", myType: "time(3)",
			pg: [3]string{"12:00:00.5", "00:00:00.001"}, my: [3]string{"12:00:00.500", "00:00:00.001"}},
		// datetimeoffset is an instant: both targets hold it in UTC; the
		// offsets (the extremes, ±14:00) are not kept.
		{name: "dto", def: "datetimeoffset(6)", lits: [3]string{"'2024-01-02T03:04:05.123456+14:00'", "'0001-01-01T00:00:00-14:00'"},
			tds:    tdsfake.DateTimeOffset(6),
			vals:   [3]any{time.Date(2024, 1, 2, 3, 4, 5, 123_456_000, plus14), time.Date(1, 1, 1, 0, 0, 0, 0, minus14)},
			myRead: "CAST(%[1]s AS CHAR)", pgType: "timestamp(6) with time zone", myType: "datetime(6)", pgRead: "(%[1]s AT TIME ZONE 'UTC')::text",
			pg: [3]string{"2024-01-01 13:04:05.123456", "0001-01-01 14:00:00"}, my: [3]string{"2024-01-01 13:04:05.123456", "0001-01-01 14:00:00.000000"}},
		// Layer 4 only: the fake speaks none of these TDS types.
		{name: "x", def: "xml", lits: [3]string{"N'<a b=\"1\">ü</a>'", "N''"},
			pgType: "text", myType: "longtext", pg: [3]string{`<a b="1">ü</a>`, ""}, my: [3]string{`<a b="1">ü</a>`, ""}},
		{name: "tx", def: "text", lits: [3]string{"'legacy text'", "''"},
			pgType: "text", myType: "longtext", pg: [3]string{"legacy text", ""}, my: [3]string{"legacy text", ""}},
		{name: "ntx", def: "ntext", lits: [3]string{"N'ünï 😀'", "N''"},
			pgType: "text", myType: "longtext", pg: [3]string{"ünï 😀", ""}, my: [3]string{"ünï 😀", ""}},
		{name: "img", def: "image", lits: [3]string{"0x0102", "0x"},
			pgType: "bytea", myType: "longblob", pgRead: "encode(%[1]s, 'hex')", myRead: "HEX(%[1]s)",
			pg: [3]string{"0102", ""}, my: [3]string{"0102", ""}},
		// rowversion is set by the server, in every row (the NULL row too):
		// only its length is known.
		{name: "rv", def: "rowversion",
			pgType: "bytea", myType: "binary(8)", pgRead: "octet_length(%[1]s)::text", myRead: "LENGTH(%[1]s)",
			pg: [3]string{"8", "8", "8"}, my: [3]string{"8", "8", "8"}},
	}
)

// msFacts is the sys.columns row of c as the source's columnsSQL reads
// it: TYPE_NAME, max_length (bytes; -1 for max), precision, scale.
func msFacts(def string) (typ string, maxLen, prec, scale int64) {
	typ, args, _ := strings.Cut(strings.TrimSuffix(def, ")"), "(")
	var a []int64
	for _, s := range strings.Split(args, ",") {
		if s == "max" {
			a = append(a, -1)
		} else if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			a = append(a, n)
		}
	}
	switch typ {
	case "char", "varchar", "binary", "varbinary":
		maxLen = a[0]
	case "nchar", "nvarchar":
		maxLen = a[0] * 2
		if a[0] == -1 {
			maxLen = -1
		}
	case "decimal", "numeric":
		prec, scale = a[0], a[1]
	case "time", "datetime2", "datetimeoffset":
		scale = a[0]
	case "rowversion":
		typ = "timestamp" // TYPE_NAME(189)
	}
	return typ, maxLen, prec, scale
}

// msMatrixScript answers a SQL Server source of dbo.matrix, the layer-3
// columns of msMatrix, at version 7 with no changes, copying rows 1-3.
func msMatrixScript(cols []msCol) map[string]tdsfake.Result {
	i4, i8, text := tdsfake.Int4, tdsfake.Int8, tdsfake.NVarchar
	facts := [][]any{{"id", int64(1), "int", int64(4), int64(10), int64(0), int64(1)}}
	names := []string{"[id]"}
	types := []tdsfake.Type{i4}
	rows := [][]any{{int64(1)}, {int64(2)}, {int64(3)}}
	for i, c := range cols {
		typ, maxLen, prec, scale := msFacts(c.def)
		facts = append(facts, []any{c.name, int64(i + 2), typ, maxLen, prec, scale, int64(0)})
		names = append(names, "["+c.name+"]")
		types = append(types, c.tds)
		for r := range rows {
			rows[r] = append(rows[r], c.vals[r])
		}
	}
	script := itemsSourceScript()
	delete(script, "SELECT TOP (@p1) [id], [name], [qty], [data] FROM [dbo].[items]…")
	script["SELECT c.name, c.column_id,…"] = tdsfake.Result{Cols: []tdsfake.Type{text, i4, text, i4, i4, i4, i4}, Rows: facts}
	script["SELECT TOP (@p1) "+strings.Join(names, ", ")+" FROM [dbo].[matrix]…"] = tdsfake.Result{Cols: types, Rows: rows}
	_ = i8
	return script
}

// msMatrixConfig replicates dbo.matrix from SQL Server source erp at dsn
// into PostgreSQL (dbo.matrix) and MariaDB (matrix in the DSN's database
// db), both created by create_tables.
func msMatrixConfig(dsn, pgDSN, myDSN, myDB string) string {
	return msToPGAndMariaDB(dsn, pgDSN, myDSN) + fmt.Sprintf(`
scope "to_pg" {
  source  = "erp"
  targets = ["pg"]
  table "dbo.matrix" {}
}
scope "to_maria" {
  source  = "erp"
  targets = ["maria"]
  table "dbo.matrix" { target = %q }
}
`, myDB+".matrix")
}

// msToPGAndMariaDB is the start of a config with SQL Server source erp
// at dsn, polled every 100ms, and PostgreSQL and MariaDB targets pg and
// maria that create their tables.
func msToPGAndMariaDB(dsn, pgDSN, myDSN string) string {
	return fmt.Sprintf(`
source "sqlserver" "erp" {
  dsn           = %q
  poll_interval = "100ms"
}
target "postgres" "pg" {
  dsn           = %q
  create_tables = true
}
target "mysql" "maria" {
  dsn           = %q
  create_tables = true
}
`, dsn, pgDSN, myDSN)
}

// checkMSMatrix waits until PostgreSQL and MariaDB hold dbo.matrix's rows
// of ids (each id i of row (i-1)%10+1: 1-3 copied, 11-13 streamed), then
// checks each column's type and values there.
func checkMSMatrix(t *testing.T, cols []msCol, pgDB, myDB *sql.DB, ids ...int) {
	t.Helper()
	var want []string
	for _, id := range ids {
		want = append(want, strconv.Itoa(id))
	}
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		for _, q := range []struct {
			db    *sql.DB
			query string
		}{{pgDB, "SELECT id FROM dbo.matrix ORDER BY id"}, {myDB, "SELECT id FROM matrix ORDER BY id"}} {
			got, err := testenv.Rows(q.db, q.query)
			if err != nil || !slices.Equal(got, want) {
				return fmt.Errorf("%s: %q, %v; want %q", q.query, got, err, want)
			}
		}
		return nil
	})
	pgTypes := columnTypes(t, pgDB, `SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = 'dbo.matrix'::regclass AND a.attnum > 0 AND NOT a.attisdropped`)
	myTypes := columnTypes(t, myDB, `SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'matrix'`)
	for _, c := range cols {
		if pgTypes[c.name] != c.pgType {
			t.Errorf("column %s (%s): PostgreSQL type %q, want %q", c.name, c.def, pgTypes[c.name], c.pgType)
		}
		if myTypes[c.name] != c.myType {
			t.Errorf("column %s (%s): MariaDB type %q, want %q", c.name, c.def, myTypes[c.name], c.myType)
		}
		var pgWant, myWant []string
		for _, id := range ids {
			r := (id - 1) % 10
			pgWant = append(pgWant, orNull(c.pg[r], r))
			myWant = append(myWant, orNull(c.my[r], r))
		}
		check := func(engine string, db *sql.DB, read, table string, want []string) {
			if read == "" {
				read = "%[1]s"
			}
			if engine == "PostgreSQL" && read == "%[1]s" {
				read = "%[1]s::text"
			}
			got, err := testenv.Rows(db, fmt.Sprintf("SELECT "+read+" FROM %[2]s ORDER BY id", c.name, table))
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("column %s (%s) at %s: %q, %v; want %q", c.name, c.def, engine, got, err, want)
			}
		}
		check("PostgreSQL", pgDB, c.pgRead, "dbo.matrix", pgWant)
		check("MariaDB", myDB, c.myRead, "matrix", myWant)
	}
}

// orNull is s, or for row 3 (r 2) testenv.Rows' NULL for "".
func orNull(s string, r int) string {
	if s == "" && r == 2 {
		return "∅"
	}
	return s
}

// columnTypes maps column names to types, from query's two columns.
func columnTypes(t *testing.T, db *sql.DB, query string) map[string]string {
	t.Helper()
	rows, err := testenv.Rows(db, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	m := map[string]string{}
	for _, r := range rows {
		name, typ, _ := strings.Cut(r, "|")
		m[name] = typ
	}
	return m
}

// msUnrepresentable are SQL Server types no PostgreSQL or MariaDB column
// type holds without loss (docs/type-mapping.md): with create_tables,
// each is an error when its scope starts, naming the type and the fix.
var msUnrepresentable = []struct{ def, want string }{
	{"datetime2(7)", "datetime2(7) keeps 100-nanosecond ticks"},
	{"time(7)", "time(7) keeps 100-nanosecond ticks"},
	{"datetimeoffset(7)", "datetimeoffset(7) keeps 100-nanosecond ticks"},
	{"sql_variant", "sql_variant has no"},
	{"geography", "geography has no"},
	{"hierarchyid", "hierarchyid has no"},
}

// oddColumns is a tdsfake.Handler answering the sys.columns query of
// table dbo.odd<i> with (id int, v <msUnrepresentable[i].def>), and its
// copy with no rows.
type oddColumns struct{}

func (oddColumns) Statement(text string, params []any) (tdsfake.Result, bool) {
	i4, text4 := tdsfake.Int4, tdsfake.NVarchar
	if strings.HasPrefix(text, "SELECT TOP (@p1) [id], [v] FROM [dbo].[odd") {
		return tdsfake.Result{Cols: []tdsfake.Type{i4, text4}}, true
	}
	if !strings.HasPrefix(text, "SELECT c.name, c.column_id,") || len(params) == 0 {
		return tdsfake.Result{}, false
	}
	i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(params[0]), "[dbo].[odd"), "]"))
	if err != nil || i >= len(msUnrepresentable) {
		return tdsfake.Result{}, false
	}
	typ, maxLen, prec, scale := msFacts(msUnrepresentable[i].def)
	return tdsfake.Result{Cols: []tdsfake.Type{text4, i4, text4, i4, i4, i4, i4}, Rows: [][]any{
		{"id", int64(1), "int", int64(4), int64(10), int64(0), int64(1)},
		{"v", int64(2), typ, maxLen, prec, scale, int64(0)},
	}}, true
}

func (oddColumns) Transaction(string) {}

// msUnrepresentableConfig has one scope per msUnrepresentable type, odd<i>
// of table dbo.odd<i>, from SQL Server source erp at dsn into PostgreSQL
// and MariaDB targets that create their tables.
func msUnrepresentableConfig(dsn, pgDSN, myDSN, myDB string) string {
	var b strings.Builder
	b.WriteString(msToPGAndMariaDB(dsn, pgDSN, myDSN))
	for i := range msUnrepresentable {
		fmt.Fprintf(&b, `scope "odd%[1]d_pg" {
  source  = "erp"
  targets = ["pg"]
  table "dbo.odd%[1]d" {}
}
scope "odd%[1]d_maria" {
  source  = "erp"
  targets = ["maria"]
  table "dbo.odd%[1]d" { target = "%[2]s.odd%[1]d" }
}
`, i, myDB)
	}
	return b.String()
}

// checkMSUnrepresentable waits until /readyz reports each scope of
// msUnrepresentableConfig stopped at start with its type's error.
func checkMSUnrepresentable(t *testing.T, d *testenv.Syncd) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		code, body := getStatus(t, d.AdminURL+"/readyz")
		if code == 200 {
			return fmt.Errorf("/readyz %d %s", code, body)
		}
		for i, u := range msUnrepresentable {
			for _, target := range []string{"pg", "maria"} {
				// Each cause is one JSON object of /readyz, naming its scope's component.
				at := strings.Index(body, fmt.Sprintf(`"scope/odd%d_%s/target/%s"`, i, target, target))
				if at < 0 {
					return fmt.Errorf("/readyz %d has no cause for scope odd%d_%s (%s): %s", code, i, target, u.def, body)
				}
				cause, _, _ := strings.Cut(body[at:], "}")
				if !strings.Contains(cause, `"apply_failed"`) || !strings.Contains(cause, u.want) || !strings.Contains(cause, "create_tables = false") {
					return fmt.Errorf("/readyz cause for %s at %s: %s; want apply_failed, %q and the fix", u.def, target, cause, u.want)
				}
			}
		}
		return nil
	})
}

// TestSQLServerTypeMatrixOverTDS is layer 3 of the type matrix (see the
// top of this file), on one PostgreSQL and one MariaDB:
//   - values: the syncd binary copies dbo.matrix, as the TDS wire FAKE
//     describes and sends it, into real PostgreSQL and MariaDB, whose
//     tables create_tables makes; each column's type and values there;
//   - unrepresentable: columns (as the fake's sys.columns describes them)
//     of types no PostgreSQL or MariaDB column holds stop each scope at
//     start with an error naming the type and the fix, in /readyz.
func TestSQLServerTypeMatrixOverTDS(t *testing.T) {
	pg, my := testenv.StartPostgres(t), testenv.StartMariaDB(t)
	t.Run("values", func(t *testing.T) {
		var cols []msCol
		for _, c := range msMatrix {
			if c.layer3() || c.name == "rv" {
				cols = append(cols, c)
			}
		}
		// rowversion: 8 bytes the server would set, sent as BINARY(8).
		rv := &cols[len(cols)-1]
		rv.tds = tdsfake.Binary
		rv.vals = [3]any{[]byte{0, 0, 0, 0, 0, 0, 7, 0xD1}, []byte{0, 0, 0, 0, 0, 0, 7, 0xD2}, []byte{0, 0, 0, 0, 0, 0, 7, 0xD3}}
		f := tdsfake.New(t, msMatrixScript(cols))
		pgDSN, myDSN := pg.CreateDB(t, "matrix"), my.CreateDB(t, "matrix")
		d := newDaemon(t, msMatrixConfig(f.DSN(), pgDSN, myDSN, "matrix"))
		d.Start()
		checkMSMatrix(t, cols, testenv.OpenDB(t, "pgx", pgDSN), testenv.OpenDB(t, "mysql", myDSN), 1, 2, 3)
	})
	t.Run("unrepresentable", func(t *testing.T) {
		f := tdsfake.New(t, itemsSourceScript())
		f.Handler = oddColumns{}
		pgDSN, myDSN := pg.CreateDB(t, "odd"), my.CreateDB(t, "odd")
		d := newDaemon(t, msUnrepresentableConfig(f.DSN(), pgDSN, myDSN, "odd"))
		d.StartAlive()
		checkMSUnrepresentable(t, d)
	})
}
