package mysql

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// typeMatrix is one column of every supported type: its definition, the
// literal inserted, the type name and the value the contract wants.
var typeMatrix = []struct {
	def, lit, typ string
	want          any
}{
	{"ti tinyint", "-128", "tinyint", int32(-128)},
	{"tb tinyint(1)", "1", "tinyint", int32(1)},
	{"tu tinyint unsigned", "255", "tinyint unsigned", int32(255)},
	{"si smallint", "-32768", "smallint", int32(-32768)},
	{"mu mediumint unsigned", "16777215", "mediumint unsigned", int32(16777215)},
	{"i int", "-2147483648", "int", int32(-2147483648)},
	{"iu int unsigned", "4294967295", "int unsigned", int64(4294967295)},
	{"bi bigint", "-9223372036854775808", "bigint", int64(-9223372036854775808)},
	{"bu bigint unsigned", "18446744073709551615", "bigint unsigned", uint64(18446744073709551615)},
	{"d decimal(65,30)", "-12345678901234567890123456789012345.123456789012345678901234567890", "decimal(65,30)",
		capture.Decimal("-12345678901234567890123456789012345.123456789012345678901234567890")},
	{"d2 decimal(10,2)", "-12.50", "decimal(10,2)", capture.Decimal("-12.50")},
	{"f float", "1.5", "float", float32(1.5)},
	{"db double", "-2.25e300", "double", -2.25e300},
	{"b1 bit(1)", "b'1'", "bit(1)", "1"},
	{"b64 bit(64)", "b'1" + strings.Repeat("0", 62) + "1'", "bit(64)", "1" + strings.Repeat("0", 62) + "1"},
	{"b5 bit(5)", "b'00101'", "bit(5)", "00101"},
	{"e enum('a','b''c')", "'b''c'", "enum('a','b''c')", "b'c"},
	{"s set('x','y','z')", "'z,x'", "set('x','y','z')", "x,z"},
	{"dt date", "'2024-02-29'", "date", "2024-02-29"},
	{"dz date", "'0000-00-00'", "date", "0000-00-00"},
	{"dp date", "'2024-00-10'", "date", "2024-00-10"},
	{"dtm datetime(6)", "'2024-01-02 03:04:05.123456'", "datetime(6)", "2024-01-02T03:04:05.123456"},
	{"dt3 datetime(3)", "'2024-01-02 03:04:05'", "datetime(3)", "2024-01-02T03:04:05.000"},
	{"dtz datetime", "'0000-00-00 00:00:00'", "datetime", "0000-00-00T00:00:00"},
	{"ts timestamp(3) NULL", "'2024-01-02 03:04:05.5'", "timestamp(3)", time.Date(2024, 1, 2, 3, 4, 5, 500e6, time.UTC)},
	{"tz timestamp NULL", "'0000-00-00 00:00:00'", "timestamp", "0000-00-00T00:00:00Z"},
	{"tm time", "'838:59:59'", "time", "838:59:59"},
	{"tmn time(1)", "'-12:00:00.5'", "time(1)", "-12:00:00.5"},
	{"tm6 time(6)", "'-00:00:01.000001'", "time(6)", "-00:00:01.000001"},
	{"yr year", "2024", "year", int32(2024)},
	{"l1 varchar(10) CHARACTER SET latin1", "'café €'", "varchar(10)", "café €"},
	{"u8 varchar(10) CHARACTER SET utf8mb4", "'😀ü'", "varchar(10)", "😀ü"},
	{"c char(4)", "'ab'", "char(4)", "ab"},
	{"tx text CHARACTER SET latin1", "'ÿ'", "text", "ÿ"},
	{"lt longtext", "'long'", "longtext", "long"},
	{"bn binary(4)", "'ab'", "binary(4)", []byte("ab\x00\x00")},
	{"vb varbinary(8)", "x'00ff'", "varbinary(8)", []byte{0, 255}},
	{"bl blob", "x'0102'", "blob", []byte{1, 2}},
	{"j json", `'{"a": [1, 2]}'`, "longtext", `{"a": [1, 2]}`},
	{"g geometry", "ST_GeomFromText('POINT(1 2)')", "geometry", []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40}},
	{"n int NULL", "NULL", "int", nil},
}

// TestTypes reads a row of edge values through the snapshot (the text
// protocol) and through the binlog, and wants the same exact Go values
// and type names from both.
func TestTypes(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	defs := []string{"id int PRIMARY KEY"}
	lits := []string{""}
	for _, c := range typeMatrix {
		defs = append(defs, c.def)
		lits = append(lits, c.lit)
	}
	insert := func(id int) string {
		lits[0] = fmt.Sprint(id)
		return "INSERT INTO types VALUES (" + strings.Join(lits, ", ") + ")"
	}
	m.Exec(t, "shop", "CREATE TABLE types ("+strings.Join(defs, ", ")+")", "SET SESSION sql_mode = ''", insert(1))
	id := capture.TableID{Schema: "shop", Name: "types"}
	rec := &recorder{snaps: []capture.SnapshotRequest{{Scope: "s", Table: id, Truncate: true}}}
	start(t, Config{DSN: dsn, Tables: tables("shop", "types"), Store: newStore(t)}, snapshotRecorder{rec})
	// Row 2 after the snapshot, which starts once the stream has.
	rec.waitSnapshotDone(t)
	m.Exec(t, "shop", "SET SESSION sql_mode = ''", insert(2))
	var events []capture.Event
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if events, _, _ = rec.get(); len(events) < 3 {
			return fmt.Errorf("%d of 3 events", len(events))
		}
		return nil
	})
	for i, ev := range events[1:] {
		via := []string{"snapshot", "binlog"}[i]
		if want := []capture.Op{capture.OpRead, capture.OpInsert}[i]; ev.Op != want {
			t.Fatalf("%s: op %c, want %c", via, ev.Op, want)
		}
		if ev.After[0] != int32(i+1) {
			t.Errorf("%s: id %v", via, ev.After[0])
		}
		for j, c := range typeMatrix {
			col, got := ev.Table.Columns[j+1], ev.After[j+1]
			if col.Type != c.typ {
				t.Errorf("%s: column %s has type %q, want %q", via, col.Name, col.Type, c.typ)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: column %s = %T %#v, want %T %#v", via, col.Name, got, got, c.want, c.want)
			}
		}
	}
}
