package sqlserver

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

func TestCheckVersions(t *testing.T) {
	a := capture.TableID{Schema: "dbo", Name: "a"}
	b := capture.TableID{Schema: "dbo", Name: "b"}
	tests := []struct {
		name     string
		cur      int64
		curOK    bool
		last     int64
		mins     []tableVersion
		wantLost []LostError
		wantErr  string
	}{
		{name: "version 0 checkpoint is valid", cur: 0, curOK: true, last: 0, mins: []tableVersion{{a, 0, true}}},
		{name: "checkpoint at the minimum is valid", cur: 9, curOK: true, last: 5, mins: []tableVersion{{a, 5, true}, {b, 1, true}}},
		{name: "NULL current version", cur: 0, curOK: false, last: 3, wantErr: "change tracking is off for the database"},
		{name: "below the minimum valid version", cur: 9, curOK: true, last: 4, mins: []tableVersion{{a, 1, true}, {b, 6, true}}, wantLost: []LostError{{b, 4, 6}}},
		{name: "two tables below their minimum valid versions", cur: 9, curOK: true, last: 4, mins: []tableVersion{{a, 5, true}, {b, 6, true}}, wantLost: []LostError{{a, 4, 5}, {b, 4, 6}}},
		{name: "NULL minimum valid version", cur: 9, curOK: true, last: 4, mins: []tableVersion{{a, 0, false}}, wantErr: "ENABLE CHANGE_TRACKING"},
		{name: "current version below the checkpoint", cur: 3, curOK: true, last: 4, wantErr: "restored or replaced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lost, err := checkVersions(tt.cur, tt.curOK, tt.last, tt.mins)
			var got []LostError
			for _, l := range lost {
				got = append(got, *l)
			}
			if !slices.Equal(got, tt.wantLost) {
				t.Fatalf("lost %v, want %v", got, tt.wantLost)
			}
			switch {
			case tt.wantLost != nil:
				if err != nil {
					t.Fatalf("err = %v with lost tables", err)
				}
				last := lost[len(lost)-1]
				for _, s := range []string{"dbo.b", "since version 4", "minimum valid version is 6", "when_needed"} {
					if !strings.Contains(last.Error(), s) {
						t.Errorf("%q lacks %q", last, s)
					}
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestState(t *testing.T) {
	until := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, c := range []checkpoint{{Version: 0}, {Version: 0, Exact: true}, {Version: 7, Exact: true, Until: until}} {
		b, _ := encodeState(c)
		if got, ok, err := decodeState(b); err != nil || !ok || got != c {
			t.Fatalf("decodeState(%s) = %+v, %v, %v; want %+v: version 0 is a checkpoint", b, got, ok, err, c)
		}
	}
	if _, ok, err := decodeState(nil); ok || err != nil {
		t.Fatalf("decodeState(nil) = %v, %v; want no checkpoint", ok, err)
	}
	for _, bad := range []string{`{}`, `{"version":-1}`, `nope`} {
		if _, _, err := decodeState([]byte(bad)); err == nil {
			t.Errorf("decodeState(%s): no error", bad)
		}
	}
}
