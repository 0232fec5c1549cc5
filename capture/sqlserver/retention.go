package sqlserver

import (
	"fmt"
	"strings"
	"time"
)

// Retention health. The cleanup task removes change tracking entries
// older than the database's CHANGE_RETENTION; once it removes a change
// after the checkpoint, the table's minimum valid version passes the
// checkpoint and the source must copy the table again. Reading change
// tracking's commit times (sys.dm_tran_commit_table) needs more privileges
// than the source asks for, so the source estimates from its own polls: the first change after the
// checkpoint committed after the start of the last poll that found the
// current version at or below the checkpoint. That poll's start is the
// checkpoint's "current until" time, and the age it gives is never below
// the true one: the warning may come early, never late.

// retentionOf converts sys.change_tracking_databases' retention_period
// and retention_period_units_desc (MINUTES, HOURS or DAYS) to a duration;
// 0 when the unit is unknown.
func retentionOf(period int64, units string) time.Duration {
	switch strings.ToUpper(units) {
	case "MINUTES":
		return time.Duration(period) * time.Minute
	case "HOURS":
		return time.Duration(period) * time.Hour
	case "DAYS":
		return time.Duration(period) * 24 * time.Hour
	}
	return 0
}

// retentionRisk says whether a checkpoint current until until (zero: still
// current) is past half of retention at now, and the time left before the
// cleanup may remove the changes after it. retention 0 means unknown: no
// risk is reported.
func retentionRisk(until, now time.Time, retention time.Duration) (risk string, left time.Duration) {
	if retention <= 0 || until.IsZero() {
		return "", 0
	}
	age := now.Sub(until)
	if age <= retention/2 {
		return "", 0
	}
	left = max(retention-age, 0)
	return fmt.Sprintf("the checkpoint is up to %s old, past half of the change retention period (%s): the cleanup may remove the changes after it in %s; see why the targets do not keep up", age.Round(time.Second), retention, left.Round(time.Second)), left
}

// seenVersion is a poll's current version and when the poll started.
type seenVersion struct {
	v  int64
	at time.Time
}

// currentUntil returns the start of the last poll in seen (in poll order)
// whose current version is at or below saved, or fallback if none is;
// zero when no poll has found a version above saved (the checkpoint is
// still current). It drops the entries no later call needs.
func currentUntil(seen []seenVersion, saved int64, fallback time.Time) (time.Time, []seenVersion) {
	if len(seen) == 0 || seen[len(seen)-1].v <= saved {
		if len(seen) > 0 {
			seen = seen[len(seen)-1:]
		}
		return time.Time{}, seen
	}
	i := 0
	for i < len(seen) && seen[i].v <= saved {
		i++
	}
	if i == 0 {
		return fallback, seen
	}
	return seen[i-1].at, seen[i-1:]
}

// maxSeen bounds the polls remembered for the estimate while the
// checkpoint does not move.
const maxSeen = 4096

// seeVersion records that a poll started at found the current version v.
// A poll finding the same version as the one before moves its time on.
// Past maxSeen entries every other one but the first and last is
// dropped: a checkpoint then falls back on an earlier poll, which only
// makes its age estimate larger.
func seeVersion(seen []seenVersion, v int64, at time.Time) []seenVersion {
	if n := len(seen); n > 0 && seen[n-1].v == v {
		seen[n-1].at = at
		return seen
	}
	seen = append(seen, seenVersion{v: v, at: at})
	if len(seen) > maxSeen {
		kept := seen[:1]
		for i := 2; i < len(seen)-1; i += 2 {
			kept = append(kept, seen[i])
		}
		seen = append(kept, seen[len(seen)-1])
	}
	return seen
}
