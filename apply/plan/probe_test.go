package plan

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// probeTable is a ProbeTable whose values are their JSON text (nil for
// null), whose columns are t."name", and whose column "doc" compares for
// equality as text, as a PostgreSQL json column does.
type probeTable struct{ *Table }

func (t probeTable) ProbeValue(i int, raw json.RawMessage) (any, error) {
	switch string(raw) {
	case "null":
		return nil, nil
	case `"bad"`:
		return nil, errors.New("bad value")
	}
	return string(raw), nil
}

func (t probeTable) ProbeOperands(i int, p string, eq bool) (string, string, error) {
	col := `t."` + t.Names[i] + `"`
	switch {
	case t.Names[i] == "shape":
		return "", "", errors.New("column shape cannot be compared")
	case t.Names[i] == "doc" && eq:
		return "CAST(" + col + " AS text)", "CAST(" + p + " AS text)", nil
	}
	return col, p, nil
}

// TestProbeGolden: the comparisons of the probe queries of each engine,
// for an insert, updates with a NULL value, an unchanged (skipped)
// value, the newest_column policy's column (with a new value and with
// NULL) and newer_wins' commit time, a delete, and a two-column key
// numbered after other parameters (ProbeAll).
func TestProbeGolden(t *testing.T) {
	items, pairs, _ := applytest.Tables("")
	items.Columns = append(items.Columns, applytest.Schema("x", nil, "doc json").Columns...)
	ins, upd, del := capture.OpInsert, capture.OpUpdate, capture.OpDelete
	newer := applytest.Change(items, upd, applytest.Key(4), `{"id":4,"name":"four","note":null,"qty":4,"doc":null}`, `{"id":4,"name":"vier","note":null,"qty":4,"doc":null}`)
	newer.Committed = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		ts     *Table
		c      *apply.Change
		column string
		before int
	}{
		{"insert with a NULL", mustTable(t, items), applytest.Change(items, ins, applytest.Key(5), "", `{"id":5,"name":"five","note":null,"qty":5,"doc":{"a":1}}`), "", 0},
		{"update, unchanged note, newest_column qty", mustTable(t, items), applytest.Change(items, upd, applytest.Key(1), `{"id":1,"name":"one","note":null,"qty":10,"doc":null}`, `{"id":1,"name":"uno","qty":11,"doc":null}`, "note"), "qty", 0},
		{"update to a NULL newest_column qty", mustTable(t, items), applytest.Change(items, upd, applytest.Key(2), `{"id":2,"name":"two","note":"n","qty":20,"doc":null}`, `{"id":2,"name":"two","note":"n","qty":null,"doc":null}`), "qty", 0},
		{"update, newer_wins", mustTable(t, items), newer, "", 0},
		{"delete, in ProbeAll after 7 parameters", mustTable(t, pairs), applytest.Change(pairs, del, `{"a":1,"b":"x"}`, `{"a":1,"b":"x","v":"old"}`, ""), "", 7},
		{"update moving a key", mustTable(t, pairs), applytest.Change(pairs, upd, `{"a":2,"b":"y"}`, `{"a":1,"b":"x","v":"old"}`, `{"a":2,"b":"y","v":"old"}`), "", 0},
	}
	for _, d := range []struct {
		name string
		d    *ProbeDialect
	}{{"postgres", PostgresProbe}, {"mysql", MySQLProbe}, {"sqlserver", SQLServerProbe}} {
		var b strings.Builder
		for _, tt := range cases {
			q, err := d.d.Probe(probeTable{tt.ts}, tt.c, tt.column, tt.before)
			if err != nil {
				t.Fatalf("%s, %s: %v", d.name, tt.name, err)
			}
			args := make([]string, len(q.Args))
			for i, a := range q.Args {
				if tm, ok := a.(time.Time); ok {
					a = tm.Format(time.RFC3339)
				}
				args[i] = fmt.Sprint(a)
			}
			fmt.Fprintf(&b, "-- %s\nbase:  %s\nnew:   %s\nnewer: %s\nkey:   %s\nargs:  %s\n\n",
				tt.name, q.Base, q.New, q.Newer, q.Key, strings.Join(args, " | "))
		}
		golden(t, "probe_"+d.name+".txt", b.String())
	}
}

// TestProbeRefuses: a table without a key, a value its column cannot
// hold, a key value missing and a column that cannot be compared fail
// the probe.
func TestProbeRefuses(t *testing.T) {
	items, _, logs := applytest.Tables("")
	shapes := applytest.Schema("shapes", []string{"id"}, "id integer", "shape text")
	for _, tt := range []struct {
		name string
		ts   *Table
		c    *apply.Change
		want string
	}{
		{"no key", mustTable(t, logs), applytest.Change(logs, capture.OpInsert, "", "", `{"msg":"m","n":1}`), "needs a primary key"},
		{"bad value", mustTable(t, items), applytest.Change(items, capture.OpInsert, applytest.Key(1), "", `{"id":1,"name":"bad"}`), "column name: bad value"},
		{"key missing", mustTable(t, items), applytest.Change(items, capture.OpDelete, "", `{"name":"x"}`, ""), "key column missing"},
		{"not comparable", mustTable(t, shapes), applytest.Change(shapes, capture.OpInsert, applytest.Key(1), "", `{"id":1,"shape":null}`), "column shape cannot be compared"},
	} {
		for _, d := range []*ProbeDialect{PostgresProbe, MySQLProbe, SQLServerProbe} {
			if _, err := d.Probe(probeTable{tt.ts}, tt.c, "", 0); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
			}
		}
	}
}

func mustTable(t *testing.T, ts *router.TableSchema) *Table {
	t.Helper()
	tb, err := NewTable(ts, ts.Target)
	if err != nil {
		t.Fatal(err)
	}
	return &tb
}

// golden compares got with testdata/name, or writes it there with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	applytest.Golden(t, *update, name, got)
}
