package sqlserver

// Layer 1 (no I/O): the origin mark of issue 19. Every statement that
// writes rows carries WITH CHANGE_TRACKING_CONTEXT holding the worker's
// origin, which capture/sqlserver reads back from CHANGETABLE's
// SYS_CHANGE_CONTEXT (capture/sqlserver/origin_test.go has the
// clause itself). What the
// statements look like is pinned in testdata/tagged*.sql. Microsoft's
// documentation relied on:
//   - WITH CHANGE_TRACKING_CONTEXT ( context ): "context is
//     varbinary(128). The value can be a constant or a variable, but
//     cannot be NULL", and it prefixes an INSERT, UPDATE, DELETE or MERGE:
//     https://learn.microsoft.com/sql/relational-databases/system-functions/with-change-tracking-context-transact-sql
//   - CHANGETABLE (CHANGES …) returns it as SYS_CHANGE_CONTEXT
//     varbinary(128), "Change context information that you can optionally
//     specify by using the WITH clause as part of an INSERT, UPDATE, or
//     DELETE statement":
//     https://learn.microsoft.com/sql/relational-databases/system-functions/changetable-transact-sql
// Whether a real server accepts the clause before each statement as
// written is left to TestRealServerOriginTagged (layer 4).

import (
	"regexp"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/apply/plan"
	"github.com/syncd-dev/syncd/capture"
	capsql "github.com/syncd-dev/syncd/capture/sqlserver"
)

var testOrigin = capture.SyncdOrigin("app", "orders", "erp")

// TestLongOriginRefused: an origin longer than a context is refused at
// New, not cut.
func TestLongOriginRefused(t *testing.T) {
	long := capture.SyncdOrigin("app", strings.Repeat("s", 120), "erp")
	if _, err := New(Config{Name: "erp", DSN: "sqlserver://u:p@localhost", Origin: long}, Options{}); err == nil {
		t.Errorf("New with an origin of %d bytes gave no error", len(long))
	}
}

// TestEveryWriteTagged: in every statement of every kind, each INSERT,
// UPDATE and DELETE starts with the clause, at the start of the text or
// after a ";" and a line break.
func TestEveryWriteTagged(t *testing.T) {
	items, _, logs := applytest.Tables("")
	seq := applytest.Schema("app.seq", []string{"id"}, "id integer", "v text")
	dml := regexp.MustCompile(`(?m)(^|;\n)(WITH CHANGE_TRACKING_CONTEXT \(0x[0-9A-F]+\)\n)?(INSERT|UPDATE|DELETE)\b`)
	for _, tc := range []struct {
		name     string
		tb       *table
		identity string
	}{
		{"items", testTable(t, items, ""), ""},
		{"logs", testTable(t, logs, ""), ""},
		{"seq", testTable(t, seq, "id"), "id"},
	} {
		tb := tc.tb
		tb.tag, _ = capsql.ContextClause(testOrigin)
		all := allColumns(tb)
		for _, o := range []plan.Op{plan.Upsert, plan.Insert, plan.Delete, plan.DeleteRow, plan.Update, plan.MoveKey, plan.Truncate} {
			if len(tb.Key) == 0 && (o == plan.Upsert || o == plan.Delete || o == plan.Update || o == plan.MoveKey) {
				continue
			}
			cols := all
			if o == plan.Delete {
				cols = tb.Key
			}
			s := tb.statement(o, cols, 2)
			found := dml.FindAllStringSubmatch(s, -1)
			if len(found) == 0 {
				t.Errorf("%s %s: no INSERT, UPDATE or DELETE in %q", tc.name, plan.Describe(o, 2, tc.name), s)
			}
			for _, m := range found {
				if m[2] == "" {
					t.Errorf("%s: %s is not tagged in\n%s", tc.name, m[3], s)
				}
			}
		}
	}
}
