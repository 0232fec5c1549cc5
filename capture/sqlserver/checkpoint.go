package sqlserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/syncd-dev/syncd/capture"
)

// state is what a source saves in its Store: the change tracking version
// through which every change is durable downstream. Version 0 is a valid
// checkpoint (nothing tracked yet), so the field is required, never
// defaulted.
//
// Exact says the targets hold the tables exactly as they were at Version,
// every row included: the checkpoint is the end of a poll that read up to
// the current version, and all of it was durable. Only then do the column
// masks of the changes after it (SYS_CHANGE_COLUMNS, relative to Version)
// tell which columns the targets hold unchanged. A checkpoint in the
// middle of a poll, or at the end of one cut short by MaxVersions, is not
// exact: a row whose net change came after it may have older changes
// before it, which the targets lack.
//
// CurrentUntil is the last time the checkpoint is known to have been the
// database's current version (retention.go), for the retention estimate
// after a restart.
//
// Copies is how many snapshot transactions taken at Version are durable
// (position.go), so that the next copy at that version goes after them.
type state struct {
	Version      *int64     `json:"version"`
	Exact        bool       `json:"exact,omitempty"`
	Copies       int64      `json:"copies,omitempty"`
	CurrentUntil *time.Time `json:"current_until,omitempty"`
}

// checkpoint is a decoded state.
type checkpoint struct {
	Version int64
	Exact   bool
	Copies  int64
	Until   time.Time // zero when unknown
}

func encodeState(c checkpoint) ([]byte, error) {
	st := state{Version: &c.Version, Exact: c.Exact, Copies: c.Copies}
	if !c.Until.IsZero() {
		u := c.Until.UTC()
		st.CurrentUntil = &u
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	return b, nil
}

// decodeState returns the saved checkpoint; ok is false when nothing is
// saved.
func decodeState(b []byte) (c checkpoint, ok bool, err error) {
	if b == nil {
		return c, false, nil
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return c, false, fmt.Errorf("decode checkpoint: %w", err)
	}
	if st.Version == nil || *st.Version < 0 {
		return c, false, fmt.Errorf("decode checkpoint %s: want {\"version\": N} with N >= 0", b)
	}
	if st.Copies < 0 || st.Copies >= 1<<copyBits {
		return c, false, fmt.Errorf("decode checkpoint %s: copies %d out of range", b, st.Copies)
	}
	c = checkpoint{Version: *st.Version, Exact: st.Exact, Copies: st.Copies}
	if st.CurrentUntil != nil {
		c.Until = *st.CurrentUntil
	}
	return c, true, nil
}

// ErrTrackingOff is returned when CHANGE_TRACKING_CURRENT_VERSION() is NULL.
var ErrTrackingOff = errors.New("change tracking is off for the database (CHANGE_TRACKING_CURRENT_VERSION() is NULL): run ALTER DATABASE ... SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 2 DAYS, AUTO_CLEANUP = ON)")

// LostError says that the changes of a table since the checkpoint are no
// longer all tracked: the checkpoint is below the table's minimum valid
// version, because the cleanup task removed changes past the retention
// period or the table was truncated.
type LostError struct {
	Table      capture.TableID
	Checkpoint int64
	MinValid   int64
}

func (e *LostError) Error() string {
	return fmt.Sprintf("changes of %s since version %d are no longer tracked: its minimum valid version is %d (change tracking cleanup ran past the retention period, or the table was truncated); copy the table again: snapshot = \"when_needed\" on every scope covering it does it", e.Table, e.Checkpoint, e.MinValid)
}

// checkVersions is the checkpoint state machine of one poll. cur is the
// poll's CHANGE_TRACKING_CURRENT_VERSION (curOK false: NULL); last the
// checkpoint; minValid the tables' minimum valid versions. It returns
// ErrTrackingOff for a NULL current version, an error naming the table for
// a NULL minimum valid version, and an error for a current version below
// the checkpoint (the database was restored or replaced); otherwise a
// *LostError for each table whose minimum valid version is above the
// checkpoint, in minValid's order: only their changes are lost, the other
// tables' are whole. A checkpoint equal to a minimum valid version is
// valid, 0 included.
func checkVersions(cur int64, curOK bool, last int64, minValid []tableVersion) ([]*LostError, error) {
	if !curOK {
		return nil, ErrTrackingOff
	}
	if cur < last {
		return nil, fmt.Errorf("the database's change tracking version %d is below the checkpoint %d: the database was restored or replaced; copy the tables again", cur, last)
	}
	var lost []*LostError
	for _, m := range minValid {
		if !m.ok {
			return nil, fmt.Errorf("change tracking is off for %s, or the login may not see it (CHANGE_TRACKING_MIN_VALID_VERSION is NULL): run ALTER TABLE %s ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON) and GRANT VIEW CHANGE TRACKING ON %s", m.table, quoteTable(m.table), quoteTable(m.table))
		}
		if last < m.v {
			lost = append(lost, &LostError{Table: m.table, Checkpoint: last, MinValid: m.v})
		}
	}
	return lost, nil
}

// tableVersion is one table's CHANGE_TRACKING_MIN_VALID_VERSION.
type tableVersion struct {
	table capture.TableID
	v     int64
	ok    bool
}
