package mysql

import (
	"context"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
)

// TestStreamStartKeepsReadPosition: a stream started from a GTID begins
// with the file's rotation and header events, which end near the file's
// start; the position read stays where the stream starts, so that a
// snapshot taken there is due at once, not after the first heartbeat.
func TestStreamStartKeepsReadPosition(t *testing.T) {
	const file = "mariadb-bin.000001"
	start, err := position(file, 5322449)
	if err != nil {
		t.Fatal(err)
	}
	ss := &session{src: &Source{metrics: NewMetrics(nil, "app")}, file: file, readPos: start}
	for _, ev := range []*replication.BinlogEvent{
		{Header: &replication.EventHeader{EventType: replication.ROTATE_EVENT, Flags: replication.LOG_EVENT_ARTIFICIAL_F},
			Event: &replication.RotateEvent{Position: 4, NextLogName: []byte(file)}},
		{Header: &replication.EventHeader{EventType: replication.FORMAT_DESCRIPTION_EVENT, LogPos: 256},
			Event: &replication.FormatDescriptionEvent{}},
		{Header: &replication.EventHeader{EventType: replication.MARIADB_GTID_LIST_EVENT, LogPos: 330},
			Event: &replication.MariadbGTIDListEvent{}},
	} {
		if err := ss.handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if ss.readPos != start {
			t.Fatalf("after a %v event ending at %d, the position read is %v, want the start, %v", ev.Header.EventType, ev.Header.LogPos, ss.readPos, start)
		}
	}
	next, _ := position("mariadb-bin.000002", 4)
	if err := ss.handle(context.Background(), &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.ROTATE_EVENT},
		Event: &replication.RotateEvent{Position: 4, NextLogName: []byte("mariadb-bin.000002")}}); err != nil {
		t.Fatal(err)
	}
	if ss.readPos != next {
		t.Errorf("after a rotation to the next file, the position read is %v, want %v", ss.readPos, next)
	}
}
