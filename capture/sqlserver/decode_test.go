package sqlserver

import (
	"reflect"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

func TestDecode(t *testing.T) {
	tb := modelTableOf("orders", "status", "total") // id, status, total
	A := capture.Absent
	row := capture.Row{int64(7), "paid", int64(10)}
	tests := []struct {
		name       string
		in         ChangeRow
		skip       []byte
		wantOK     bool
		wantOp     capture.Op
		wantBefore capture.Row
		wantAfter  capture.Row
		wantErr    bool
	}{
		{name: "insert", in: ChangeRow{Op: 'I', Key: capture.Row{int64(7)}, Row: row}, wantOK: true, wantOp: capture.OpInsert, wantAfter: row},
		{name: "update, null mask: no old image", in: ChangeRow{Op: 'U', Key: capture.Row{int64(7)}, Row: row}, wantOK: true, wantOp: capture.OpUpdate, wantAfter: row},
		{name: "update of total: status unchanged in Before", in: ChangeRow{Op: 'U', Key: capture.Row{int64(7)}, Row: row, Changed: []bool{false, false, true}},
			wantOK: true, wantOp: capture.OpUpdate, wantBefore: capture.Row{int64(7), "paid", A}, wantAfter: row},
		{name: "the key stays in Before even if masked", in: ChangeRow{Op: 'U', Key: capture.Row{int64(7)}, Row: row, Changed: []bool{true, true, true}},
			wantOK: true, wantOp: capture.OpUpdate, wantBefore: capture.Row{int64(7), A, A}, wantAfter: row},
		{name: "delete carries the key only", in: ChangeRow{Op: 'D', Key: capture.Row{int64(7)}}, wantOK: true, wantOp: capture.OpDelete, wantBefore: capture.Row{int64(7), A, A}},
		{name: "insert of a row since gone is skipped", in: ChangeRow{Op: 'I', Key: capture.Row{int64(7)}}},
		{name: "update of a row since gone is skipped", in: ChangeRow{Op: 'U', Key: capture.Row{int64(7)}, Changed: []bool{false, true, false}}},
		{name: "syncd's own write is skipped", in: ChangeRow{Op: 'I', Key: capture.Row{int64(7)}, Row: row, Context: []byte("syncd")}, skip: []byte("syncd")},
		{name: "another context is captured", in: ChangeRow{Op: 'D', Key: capture.Row{int64(7)}, Context: []byte("app")}, skip: []byte("syncd"), wantOK: true, wantOp: capture.OpDelete, wantBefore: capture.Row{int64(7), A, A}},
		{name: "unknown operation", in: ChangeRow{Op: 'X'}, wantErr: true},
		{name: "short row", in: ChangeRow{Op: 'I', Row: capture.Row{int64(7)}}, wantErr: true},
		{name: "short mask", in: ChangeRow{Op: 'U', Row: row, Changed: []bool{true}}, wantErr: true},
		{name: "delete without key", in: ChangeRow{Op: 'D'}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok, err := decode(tb, tt.in, tt.skip)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if ev.Op != tt.wantOp || !reflect.DeepEqual(ev.Before, tt.wantBefore) || !reflect.DeepEqual(ev.After, tt.wantAfter) {
				t.Fatalf("got %c before %v after %v, want %c before %v after %v", ev.Op, ev.Before, ev.After, tt.wantOp, tt.wantBefore, tt.wantAfter)
			}
		})
	}
}

// TestInMask pins the model's CHANGE_TRACKING_IS_COLUMN_IN_MASK: bit id-1
// per column id, and a NULL mask holding every column.
func TestInMask(t *testing.T) {
	mask := uint64(0b101) // column ids 1 and 3
	for id, want := range map[int]bool{1: true, 2: false, 3: true, 4: false, 0: false, 65: false} {
		if got := inMask(id, &mask); got != want {
			t.Errorf("inMask(%d, 0b101) = %v, want %v", id, got, want)
		}
	}
	if !inMask(2, nil) {
		t.Error("inMask(2, NULL) = false, want true: a NULL mask means every column")
	}
	tb := modelTableOf("t", "a", "b")
	if got := changedColumns(tb, &mask); !reflect.DeepEqual(got, []bool{true, false, true}) {
		t.Errorf("changedColumns = %v", got)
	}
	if changedColumns(tb, nil) != nil {
		t.Error("changedColumns(NULL) is not nil")
	}
}
