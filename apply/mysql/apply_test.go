package mysql

import (
	"slices"
	"strconv"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
)

var (
	// items has a key; its target table has a column syncd does not
	// publish, which keeps its default.
	items = schema("items", []string{"id"}, "id integer", "name text", "note text", "qty integer")
	// pairs has a key of two columns.
	pairs = schema("pairs", []string{"a", "b"}, "a integer", "b text", "v text")
	// logs has no key.
	logs = schema("logs", nil, "msg text", "n integer")
)

const opsDDL = `CREATE TABLE items (id integer PRIMARY KEY, name text, note text, qty integer, extra text DEFAULT 'x');
CREATE TABLE pairs (a integer, b varchar(10), v text, PRIMARY KEY (a, b));
CREATE TABLE logs (msg text, n integer);
INSERT INTO items (id, name, note, qty) VALUES (1, 'one', 'big note', 10), (2, 'two', NULL, 20);
INSERT INTO pairs VALUES (1, 'x', 'old');
INSERT INTO logs VALUES ('dup', 1), ('dup', 1), ('other', 2)`

func TestApplyOps(t *testing.T) {
	const (
		ins = capture.OpInsert
		rd  = capture.OpRead
		upd = capture.OpUpdate
		del = capture.OpDelete
		trc = capture.OpTruncate
	)
	tests := []struct {
		name    string
		changes []*apply.Change
		query   string
		want    []string
	}{
		{
			name:    "insert",
			changes: []*apply.Change{change(items, ins, `{"id":3}`, "", `{"id":3,"name":"three","note":null,"qty":30}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|∅|20|x", "3|three|∅|30|x"},
		},
		{
			name:    "insert of a key present updates it",
			changes: []*apply.Change{change(items, ins, `{"id":1}`, "", `{"id":1,"name":"uno","note":"n","qty":11}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|uno|n|11|x", "2|two|∅|20|x"},
		},
		{
			name:    "snapshot read",
			changes: []*apply.Change{change(items, rd, `{"id":2}`, "", `{"id":2,"name":"deux","note":null,"qty":2}`), change(items, rd, `{"id":5}`, "", `{"id":5,"name":"five","note":null,"qty":5}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|deux|∅|2|x", "5|five|∅|5|x"},
		},
		{
			name:    "update",
			changes: []*apply.Change{change(items, upd, `{"id":2}`, "", `{"id":2,"name":"two","note":"now","qty":21}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|now|21|x"},
		},
		{
			name:    "update of a missing row inserts it",
			changes: []*apply.Change{change(items, upd, `{"id":9}`, "", `{"id":9,"name":"nine","note":null,"qty":9}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|∅|20|x", "9|nine|∅|9|x"},
		},
		{
			name:    "unchanged columns are kept",
			changes: []*apply.Change{change(items, upd, `{"id":1}`, "", `{"id":1,"name":"one!","qty":12}`, "note")},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one!|big note|12|x", "2|two|∅|20|x"},
		},
		{
			name: "rows with different unchanged columns",
			changes: []*apply.Change{change(items, upd, `{"id":1}`, "", `{"id":1,"name":"a","qty":1}`, "note"),
				change(items, upd, `{"id":2}`, "", `{"id":2,"name":"b","note":"n2","qty":2}`),
				change(items, upd, `{"id":2}`, "", `{"id":2,"qty":3}`, "name", "note")},
			query: `SELECT * FROM items ORDER BY id`,
			want:  []string{"1|a|big note|1|x", "2|b|n2|3|x"},
		},
		{
			name:    "key outside after",
			changes: []*apply.Change{change(items, upd, `{"id":2}`, "", `{"qty":22}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|∅|22|x"},
		},
		{
			name:    "delete",
			changes: []*apply.Change{change(items, del, `{"id":1}`, `{"id":1}`, ""), change(items, del, `{"id":7}`, `{"id":7}`, "")},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"2|two|∅|20|x"},
		},
		{
			name:    "key change",
			changes: []*apply.Change{change(items, upd, `{"id":4}`, `{"id":1}`, `{"id":4,"name":"four","qty":40}`, "note")},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"2|two|∅|20|x", "4|four|big note|40|x"},
		},
		{
			name:    "key change of a missing row inserts it",
			changes: []*apply.Change{change(items, upd, `{"id":6}`, `{"id":8}`, `{"id":6,"name":"six","note":null,"qty":6}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|∅|20|x", "6|six|∅|6|x"},
		},
		{
			name:    "key change of part of a two-column key",
			changes: []*apply.Change{change(pairs, upd, `{"a":1,"b":"y"}`, `{"a":1,"b":"x"}`, `{"a":1,"b":"y","v":"new"}`)},
			query:   `SELECT * FROM pairs ORDER BY a, b`,
			want:    []string{"1|y|new"},
		},
		{
			name:    "same key in before is no key change",
			changes: []*apply.Change{change(pairs, upd, `{"a":1,"b":"x"}`, `{"a":1,"b":"x","v":"old"}`, `{"a":1,"b":"x","v":"new"}`)},
			query:   `SELECT * FROM pairs ORDER BY a, b`,
			want:    []string{"1|x|new"},
		},
		{
			name:    "delete then insert of one key",
			changes: []*apply.Change{change(items, del, `{"id":1}`, `{"id":1}`, ""), change(items, ins, `{"id":1}`, "", `{"id":1,"name":"again","note":null,"qty":1}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|again|∅|1|x", "2|two|∅|20|x"},
		},
		{
			name: "insert then delete of one key",
			changes: []*apply.Change{change(items, ins, `{"id":3}`, "", `{"id":3,"name":"three","note":null,"qty":3}`),
				change(items, del, `{"id":3}`, `{"id":3}`, "")},
			query: `SELECT * FROM items ORDER BY id`,
			want:  []string{"1|one|big note|10|x", "2|two|∅|20|x"},
		},
		{
			name: "two updates of one key",
			changes: []*apply.Change{change(items, upd, `{"id":2}`, "", `{"id":2,"name":"a","note":null,"qty":1}`),
				change(items, upd, `{"id":1}`, "", `{"id":1,"name":"b","note":"c","qty":2}`),
				change(items, upd, `{"id":2}`, "", `{"id":2,"name":"d","note":null,"qty":3}`)},
			query: `SELECT * FROM items ORDER BY id`,
			want:  []string{"1|b|c|2|x", "2|d|∅|3|x"},
		},
		{
			name:    "truncate",
			changes: []*apply.Change{change(items, ins, `{"id":3}`, "", `{"id":3,"name":"three","note":null,"qty":3}`), change(items, trc, "", "", ""), change(items, ins, `{"id":4}`, "", `{"id":4,"name":"four","note":null,"qty":4}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"4|four|∅|4|x"},
		},
		{
			name:    "no key: insert",
			changes: []*apply.Change{change(logs, ins, "", "", `{"msg":"new","n":3}`), change(logs, ins, "", "", `{"msg":"dup","n":1}`)},
			query:   `SELECT * FROM logs ORDER BY msg, n`,
			want:    []string{"dup|1", "dup|1", "dup|1", "new|3", "other|2"},
		},
		{
			name:    "no key: update one of two equal rows",
			changes: []*apply.Change{change(logs, upd, "", `{"msg":"dup","n":1}`, `{"msg":"dup","n":5}`)},
			query:   `SELECT * FROM logs ORDER BY msg, n`,
			want:    []string{"dup|1", "dup|5", "other|2"},
		},
		{
			name:    "no key: delete one of two equal rows",
			changes: []*apply.Change{change(logs, del, "", `{"msg":"dup","n":1}`, "")},
			query:   `SELECT * FROM logs ORDER BY msg, n`,
			want:    []string{"dup|1", "other|2"},
		},
		{
			name: "no key: delete both equal rows, and a missing one",
			changes: []*apply.Change{change(logs, del, "", `{"msg":"dup","n":1}`, ""), change(logs, del, "", `{"msg":"dup","n":1}`, ""),
				change(logs, del, "", `{"msg":"dup","n":1}`, "")},
			query: `SELECT * FROM logs ORDER BY msg, n`,
			want:  []string{"other|2"},
		},
		{
			name:    "no key: null matches null",
			changes: []*apply.Change{change(logs, ins, "", "", `{"msg":null,"n":null}`), change(logs, upd, "", `{"msg":null,"n":null}`, `{"msg":"was null","n":null}`)},
			query:   `SELECT * FROM logs ORDER BY msg, n`,
			want:    []string{"dup|1", "dup|1", "other|2", "was null|∅"},
		},
	}
	for _, isolate := range []bool{false, true} {
		mode := "batch"
		if isolate {
			mode = "isolate"
		}
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				e.exec(opsDDL)
				e.prepare(items, pairs, logs)
				if err := e.run(isolate, record(1), tt.changes...); err != nil {
					t.Fatalf("apply: %v", err)
				}
				if got := e.rows(tt.query); !slices.Equal(got, tt.want) {
					t.Errorf("%s\n got %q\nwant %q", tt.query, got, tt.want)
				}
			})
		}
	}
}

// TestApplyGroups applies more rows than one statement holds, in runs of
// alternating tables and ops, and checks the result against what the
// changes say.
func TestApplyGroups(t *testing.T) {
	e := newEnv(t)
	e.exec(`CREATE TABLE items (id integer PRIMARY KEY, name text, note text, qty integer)`)
	e.prepare(items)
	var changes []*apply.Change
	want := map[int]string{}
	for i := range 2500 {
		id := i % 1200 // keys repeat within a group
		changes = append(changes, change(items, capture.OpUpdate, key(id), "", rowJSON(id, i)))
		want[id] = rowText(id, i)
		if i%7 == 0 {
			changes = append(changes, change(items, capture.OpDelete, key(id+1), key(id+1), ""))
			delete(want, id+1)
		}
	}
	if err := e.run(false, record(1), changes...); err != nil {
		t.Fatal(err)
	}
	got := e.rows(`SELECT id, name, note, qty FROM items ORDER BY id`)
	var wantRows []string
	for id := range 1300 {
		if w, ok := want[id]; ok {
			wantRows = append(wantRows, w)
		}
	}
	if !slices.Equal(got, wantRows) {
		t.Errorf("got %d rows, want %d; first difference at %d", len(got), len(wantRows), firstDiff(got, wantRows))
	}
}

func key(id int) string { return `{"id":` + itoa(id) + `}` }
func rowJSON(id, v int) string {
	return `{"id":` + itoa(id) + `,"name":"n` + itoa(v) + `","note":null,"qty":` + itoa(v) + `}`
}
func rowText(id, v int) string { return itoa(id) + "|n" + itoa(v) + "|∅|" + itoa(v) }

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func itoa(i int) string { return strconv.Itoa(i) }
