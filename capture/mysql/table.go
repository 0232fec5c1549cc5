package mysql

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// tableMap is one version of a published table as the binlog describes
// it in a TableMapEvent with full row metadata: its capture.Table and one
// converter per column. A table map with other columns makes another
// tableMap, so rows logged before an ALTER decode with the columns they
// were logged with, whatever the catalog says now.
type tableMap struct {
	table  *capture.Table
	conv   []converter
	before capture.Row // reused for every event, as the Sink contract allows
	after  capture.Row
}

// DDL is a schema change read from the binlog.
type DDL struct {
	Pos    capture.Position `json:"pos"`
	File   string           `json:"file"`
	Offset uint32           `json:"offset"`
	Schema string           `json:"schema"`
	Query  string           `json:"query"`
	At     time.Time        `json:"at"`
}

// schemaHistory keeps the schema changes read and the table versions the
// binlog described, keyed by their metadata.
type schemaHistory struct {
	byMeta map[string]*tableMap // by tableSignature
	ddls   []DDL                // the last few, for status and logs
	// named holds tables known by name only (truncated before any of
	// their rows was read), one *capture.Table each, so that the router
	// sees one table, not a new one per truncate.
	named map[capture.TableID]*capture.Table
}

// newTableMap describes a published table from its table map event. It
// fails if the event lacks the row metadata (binlog_row_metadata=FULL)
// or a column's character set cannot be read.
func newTableMap(e *replication.TableMapEvent, cs charsets) (*tableMap, error) {
	id := capture.TableID{Schema: string(e.Schema), Name: string(e.Table)}
	names := e.ColumnNameString()
	if len(names) != int(e.ColumnCount) {
		return nil, retry.Terminal(fmt.Errorf("table map of %s has no column names: set binlog_row_metadata = FULL on the server", id))
	}
	unsigned := e.UnsignedMap()
	collations := e.CollationMap()
	enums := e.EnumStrValueMap()
	sets := e.SetStrValueMap()
	t := &capture.Table{Schema: id.Schema, Name: id.Name, Columns: make([]capture.Column, e.ColumnCount)}
	conv := make([]converter, e.ColumnCount)
	for i := range int(e.ColumnCount) {
		cs := cs.byCollation[collations[i]]
		typ, c, err := columnType(id, names[i], e.ColumnType[i], e.ColumnMeta[i], unsigned[i], cs, enums[i], sets[i])
		if err != nil {
			return nil, err
		}
		t.Columns[i] = capture.Column{Name: names[i], Type: typ}
		conv[i] = c
	}
	for _, k := range e.PrimaryKey {
		t.Key = append(t.Key, int(k))
	}
	return &tableMap{table: t, conv: conv, before: make(capture.Row, len(conv)), after: make(capture.Row, len(conv))}, nil
}

// tableSignature identifies a table map's metadata: two events with one
// signature describe one table version.
func tableSignature(e *replication.TableMapEvent) string {
	var b strings.Builder
	b.Write(e.Schema)
	b.WriteByte('.')
	b.Write(e.Table)
	b.WriteByte('|')
	b.Write(e.ColumnType)
	for _, m := range e.ColumnMeta {
		b.WriteString(strconv.Itoa(int(m)))
		b.WriteByte(',')
	}
	for _, n := range e.ColumnName {
		b.Write(n)
		b.WriteByte(0)
	}
	fmt.Fprint(&b, e.SignednessBitmap, e.DefaultCharset, e.ColumnCharset, e.EnumStrValue, e.SetStrValue, e.PrimaryKey)
	return b.String()
}

// columnType names one column's type as the value contract does and
// returns its converter.
func columnType(id capture.TableID, name string, tp byte, meta uint16, unsigned bool, cs charsetInfo, enum, set []string) (string, converter, error) {
	sign := func(s string) string {
		if unsigned {
			return s + " unsigned"
		}
		return s
	}
	switch tp {
	case gomysql.MYSQL_TYPE_TINY:
		return sign("tinyint"), convInt32, nil
	case gomysql.MYSQL_TYPE_SHORT:
		return sign("smallint"), convInt32, nil
	case gomysql.MYSQL_TYPE_INT24:
		return sign("mediumint"), convInt32, nil
	case gomysql.MYSQL_TYPE_LONG:
		if unsigned {
			return "int unsigned", convInt64, nil
		}
		return "int", convInt32, nil
	case gomysql.MYSQL_TYPE_LONGLONG:
		if unsigned {
			return "bigint unsigned", convUint64, nil
		}
		return "bigint", convInt64, nil
	case gomysql.MYSQL_TYPE_NEWDECIMAL:
		p, s := int(meta>>8), int(meta&0xff)
		return fmt.Sprintf("decimal(%d,%d)", p, s), convDecimal(s), nil
	case gomysql.MYSQL_TYPE_FLOAT:
		return "float", convFloat, nil
	case gomysql.MYSQL_TYPE_DOUBLE:
		return "double", convDouble, nil
	case gomysql.MYSQL_TYPE_BIT:
		n := int(meta>>8)*8 + int(meta&0xff)
		return fmt.Sprintf("bit(%d)", n), convBit(n), nil
	case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
		return "date", convDate, nil
	case gomysql.MYSQL_TYPE_DATETIME:
		return "datetime", convDatetime, nil
	case gomysql.MYSQL_TYPE_DATETIME2:
		return withFSP("datetime", int(meta)), convDatetime, nil
	case gomysql.MYSQL_TYPE_TIMESTAMP:
		return "timestamp", convTimestamp, nil
	case gomysql.MYSQL_TYPE_TIMESTAMP2:
		return withFSP("timestamp", int(meta)), convTimestamp, nil
	case gomysql.MYSQL_TYPE_TIME:
		return "time", convTime(0), nil
	case gomysql.MYSQL_TYPE_TIME2:
		return withFSP("time", int(meta)), convTime(int(meta)), nil
	case gomysql.MYSQL_TYPE_YEAR:
		return "year", convYear, nil
	case gomysql.MYSQL_TYPE_JSON:
		return "json", convJSON, nil
	case gomysql.MYSQL_TYPE_GEOMETRY:
		return "geometry", convGeometry, nil
	case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING:
		return stringType(id, name, "varchar", "varbinary", int(meta), cs)
	case gomysql.MYSQL_TYPE_BLOB:
		kinds := [...]string{"", "tiny", "", "medium", "long"}
		if meta < 1 || meta > 4 {
			return "", nil, fmt.Errorf("table %s column %s: blob with pack length %d", id, name, meta)
		}
		if cs.name == "binary" || cs.name == "" {
			return kinds[meta] + "blob", convBytes, nil
		}
		c, err := convText(id.String(), name, cs.name)
		return kinds[meta] + "text", c, err
	case gomysql.MYSQL_TYPE_STRING:
		real, length := byte(meta>>8), int(meta&0xff)
		if meta >= 256 && real&0x30 != 0x30 {
			length |= int((real&0x30)^0x30) << 4
			real |= 0x30
		}
		switch real {
		case gomysql.MYSQL_TYPE_ENUM:
			return "enum(" + quoteMembers(enum) + ")", convEnum(enum), nil
		case gomysql.MYSQL_TYPE_SET:
			return "set(" + quoteMembers(set) + ")", convSet(set), nil
		}
		if meta < 256 {
			length = int(meta)
		}
		return stringType(id, name, "char", "binary", length, cs)
	}
	return "", nil, retry.Terminal(fmt.Errorf("table %s column %s: binlog column type %d is not supported", id, name, tp))
}

// stringType names a char/varchar (or binary/varbinary) column; the
// binlog gives its length in bytes.
func stringType(id capture.TableID, name, text, bin string, byteLen int, cs charsetInfo) (string, converter, error) {
	if cs.name == "binary" || cs.name == "" {
		if bin == "binary" {
			return fmt.Sprintf("binary(%d)", byteLen), convBinary(byteLen), nil
		}
		return fmt.Sprintf("%s(%d)", bin, byteLen), convBytes, nil
	}
	c, err := convText(id.String(), name, cs.name)
	return fmt.Sprintf("%s(%d)", text, byteLen/max(cs.maxLen, 1)), c, err
}

func withFSP(t string, fsp int) string {
	if fsp == 0 {
		return t
	}
	return fmt.Sprintf("%s(%d)", t, fsp)
}

// decode converts one binlog row image into dst. Columns left out of the
// image (binlog_row_image MINIMAL or NOBLOB) are capture.Absent.
func (tm *tableMap) decode(raw []any, skipped []int, dst capture.Row) error {
	for i, v := range raw {
		if v == nil {
			dst[i] = nil
			continue
		}
		out, err := tm.conv[i](v)
		if err != nil {
			return fmt.Errorf("decode %s.%s: %w", tm.table.ID(), tm.table.Columns[i].Name, err)
		}
		dst[i] = out
	}
	for _, i := range skipped {
		dst[i] = capture.Absent
	}
	return nil
}
