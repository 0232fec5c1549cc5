package postgres

import (
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
)

// TestMissingColumns checks what syncd plan reads of a target, on a
// read-only Target that refuses to create its scope_info table.
func TestMissingColumns(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ReadOnly = true })
	e.exec(`CREATE TABLE item (id int PRIMARY KEY, name text)`)
	ctx := applytest.Context(t)
	for _, tc := range []struct {
		name        string
		table       string
		cols        []string
		wantExists  bool
		wantMissing []string
	}{
		{"all there", "item", []string{"id", "name"}, true, nil},
		{"lacks columns", "item", []string{"id", "price", "name", "note"}, true, []string{"price", "note"}},
		{"no table", "other", []string{"id"}, false, []string{"id"}},
	} {
		exists, missing, err := e.tg.MissingColumns(ctx, capture.TableID{Schema: "public", Name: tc.table}, tc.cols)
		if err != nil || exists != tc.wantExists || !slices.Equal(missing, tc.wantMissing) {
			t.Errorf("%s: MissingColumns = %v, %v, %v; want %v, %v", tc.name, exists, missing, err, tc.wantExists, tc.wantMissing)
		}
	}
	if err := e.tg.Prepare(ctx, "s", nil); err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("Prepare on a read-only target: %v, want the scope_info table refused", err)
	}
}
