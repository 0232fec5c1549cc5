package sqlserver

// Layer 1 for the two-way probe (probe.go): no I/O. The golden file holds
// the exact T-SQL of Probe and of a ProbeAll part numbered after earlier
// parts' parameters; the other tests pin the arguments' order, NULLs
// compared with IS NULL, the casts of types = cannot compare and the
// refusal of spatial columns. Whether SQL Server runs these queries as
// their comments say is for TestRealServerProbeAll (layer 4, never run).

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
)

var paramRE = regexp.MustCompile(`@p(\d+)\b`)

func TestProbeGolden(t *testing.T) {
	items, pairs, _ := applytest.Tables("")
	odd := applytest.Schema("we]ird.ta]]ble", []string{"k]1"}, "k]1 integer", "v'al text")
	ins, upd, del := capture.OpInsert, capture.OpUpdate, capture.OpDelete
	for _, tt := range []struct {
		name   string
		tb     *table
		c      *apply.Change
		column string
		index  int
		skip   int
		args   string
	}{
		{"insert", testTable(t, items, ""), applytest.Change(items, ins, applytest.Key(5), "", `{"id":5,"name":"five","note":null,"qty":5}`), "", -1, 0,
			"[5 five 5 5]"},
		{"update, newest_column qty", testTable(t, items, ""), applytest.Change(items, upd, applytest.Key(1), `{"id":1,"name":"one","note":null,"qty":10}`, `{"id":1,"name":"uno","qty":11}`, "note"), "qty", -1, 0,
			"[1 one 10 1 uno 11 11 1]"},
		{"delete, in ProbeAll after 7 parameters", testTable(t, pairs, ""), applytest.Change(pairs, del, `{"a":1,"b":"x"}`, `{"a":1,"b":"x","v":"old"}`, ""), "", 3, 7,
			"[1 x old 1 x]"},
		{"update moving a key, odd names", testTable(t, odd, ""), applytest.Change(odd, upd, `{"k]1":2}`, `{"k]1":1,"v'al":"a"}`, `{"k]1":2,"v'al":"a"}`), "", 0, 0,
			"[1 a 2 a 1]"},
	} {
		q, args, err := probeSQLAt(tt.tb, tt.c, tt.column, tt.index, tt.skip)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := fmt.Sprint(args); got != tt.args {
			t.Errorf("%s: arguments %s, want %s", tt.name, got, tt.args)
		}
		// The query names exactly its own parameters, numbered after
		// skip.
		seen := map[int]bool{}
		for _, m := range paramRE.FindAllStringSubmatch(q, -1) {
			n, _ := strconv.Atoi(m[1])
			if n <= tt.skip || n > tt.skip+len(args) {
				t.Errorf("%s: parameter @p%d out of @p%d…@p%d in %s", tt.name, n, tt.skip+1, tt.skip+len(args), q)
			}
			seen[n] = true
		}
		if len(seen) != len(args) {
			t.Errorf("%s: %d of %d parameters named in %s", tt.name, len(seen), len(args), q)
		}
		golden(t, "probe_"+strings.NewReplacer(" ", "_", ",", "").Replace(tt.name)+".sql", q+"\n")
	}
}

// TestProbeComparesTypes: columns of types = cannot compare are cast,
// spatial ones refused, CLR types read with ToString().
func TestProbeComparesTypes(t *testing.T) {
	ts := applytest.Schema("docs", []string{"id"}, "id integer", "body text", "shape text")
	tb := testTable(t, ts, "")
	tb.cols[1].dataType = "xml"
	tb.cols[2].dataType = "hierarchyid"
	c := applytest.Change(ts, capture.OpUpdate, applytest.Key(1), `{"id":1,"body":"<a/>","shape":"/1/"}`, `{"id":1,"body":null,"shape":"/1/"}`)
	q, _, err := probeSQL(tb, c, "", -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CAST(t.[body] AS nvarchar(max)) = @p2", "CAST(t.[body] AS nvarchar(max)) IS NULL", "t.[shape].ToString() AS [shape]"} {
		if !strings.Contains(q, want) {
			t.Errorf("probe lacks %q:\n%s", want, q)
		}
	}
	tb.cols[2].dataType = "geography"
	if _, _, err := probeSQL(tb, c, "", -1); err == nil || !strings.Contains(err.Error(), "column shape: a geography value cannot be compared") {
		t.Errorf("probe of a geography column: %v", err)
	}
	// Not compared: the probe of a delete whose old row does not hold it.
	d := applytest.Change(ts, capture.OpDelete, applytest.Key(1), applytest.Key(1), "")
	if _, args, err := probeSQL(tb, d, "", -1); err != nil || !slices.Equal(args, []any{int64(1), int64(1)}) {
		t.Errorf("probe of a delete by key: %v, %v", args, err)
	}
}
