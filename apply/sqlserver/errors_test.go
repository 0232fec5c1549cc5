package sqlserver

// Layer 1: error classification, no I/O. The numbers are those of
// https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors
// as go-mssqldb reports them (mssql.Error.Number, and All for the
// errors of one request). Whether a real server sends exactly these for
// each case only realserver_test.go can prove.

import (
	"errors"
	"fmt"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

func TestErrorClassification(t *testing.T) {
	wrap := func(n int32) error {
		return fmt.Errorf("upsert 1 row of t: %w", mssql.Error{Number: n, Message: "m"})
	}
	for _, tt := range []struct {
		name         string
		err          error
		wantRejected bool
		wantTerminal bool // at connect
	}{
		{"2627 primary key or unique constraint", wrap(2627), true, false},
		{"2601 duplicate key in unique index", wrap(2601), true, false},
		{"547 foreign key or check constraint", wrap(547), true, false},
		{"8152 string or binary data truncated", wrap(8152), true, false},
		{"2628 truncated, column named", wrap(2628), true, false},
		{"515 NULL into NOT NULL", wrap(515), true, false},
		{"8115 arithmetic overflow", wrap(8115), true, false},
		{"241 date conversion", wrap(241), true, false},
		{"8102 identity update", wrap(8102), true, false},
		{"1205 deadlock victim: retry", wrap(1205), false, false},
		{"1222 lock timeout: retry", wrap(1222), false, false},
		{"208 invalid object: operator", wrap(208), false, false},
		{"4060 cannot open database", wrap(4060), false, true},
		{"18456 login failed", wrap(18456), false, true},
		{"not a server error", errors.New("broken pipe"), false, false},
		{"2627 among the request's errors, 3621 last",
			mssql.Error{Number: 3621, All: []mssql.Error{{Number: 2627}, {Number: 3621}}}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := refused(tt.err); got != tt.wantRejected {
				t.Errorf("refused = %v, want %v", got, tt.wantRejected)
			}
			rej := apply.Reject(tt.err, nil, refused)
			if got := apply.IsRejected(rej); got != tt.wantRejected {
				t.Errorf("apply.Reject gives rejected = %v, want %v", got, tt.wantRejected)
			}
			if got := retry.IsTerminal(classifyConnect(tt.err)); got != tt.wantTerminal {
				t.Errorf("classifyConnect terminal = %v, want %v", got, tt.wantTerminal)
			}
		})
	}
}
