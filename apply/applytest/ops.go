package applytest

import (
	"slices"
	"testing"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

// Suite is what the tests every target must pass need of an engine. Each
// test gets an Env of its own.
type Suite struct {
	NewEnv NewEnv
	// Schema is the target schema of the Tables ("": the target's
	// default).
	Schema string
	// OpsDDL creates and fills the Tables: items (id, name, note, qty,
	// and extra, unpublished, default 'x') holding (1, one, big note, 10)
	// and (2, two, NULL, 20); pairs holding (1, x, old); logs holding
	// (dup, 1) twice and (other, 2).
	OpsDDL string
	// StrictDDL creates the items table of Tables with name NOT NULL and
	// qty CHECK (qty >= 0).
	StrictDDL string
}

// Tables returns the tables of the shared tests, with their targets in
// schema ("": the target's default). items has a key; its target table
// has a column syncd does not publish, which keeps its default. pairs
// has a key of two columns. logs has no key.
func Tables(schema string) (items, pairs, logs *router.TableSchema) {
	if schema != "" {
		schema += "."
	}
	items = Schema(schema+"items", []string{"id"}, "id integer", "name text", "note text", "qty integer")
	pairs = Schema(schema+"pairs", []string{"a", "b"}, "a integer", "b text", "v text")
	logs = Schema(schema+"logs", nil, "msg text", "n integer")
	return items, pairs, logs
}

// Ops applies each kind of change, in a batched and in an isolated
// transaction, to the Tables as OpsDDL makes them, and checks the rows
// after each transaction.
func (s Suite) Ops(t *testing.T) {
	items, pairs, logs := Tables(s.Schema)
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
			changes: []*apply.Change{Change(items, ins, `{"id":3}`, "", `{"id":3,"name":"three","note":null,"qty":30}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|∅|20|x", "3|three|∅|30|x"},
		},
		{
			name:    "insert of a key present updates it",
			changes: []*apply.Change{Change(items, ins, `{"id":1}`, "", `{"id":1,"name":"uno","note":"n","qty":11}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|uno|n|11|x", "2|two|∅|20|x"},
		},
		{
			name:    "snapshot read",
			changes: []*apply.Change{Change(items, rd, `{"id":2}`, "", `{"id":2,"name":"deux","note":null,"qty":2}`), Change(items, rd, `{"id":5}`, "", `{"id":5,"name":"five","note":null,"qty":5}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|deux|∅|2|x", "5|five|∅|5|x"},
		},
		{
			name:    "update",
			changes: []*apply.Change{Change(items, upd, `{"id":2}`, "", `{"id":2,"name":"two","note":"now","qty":21}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|now|21|x"},
		},
		{
			name:    "update of a missing row inserts it",
			changes: []*apply.Change{Change(items, upd, `{"id":9}`, "", `{"id":9,"name":"nine","note":null,"qty":9}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|∅|20|x", "9|nine|∅|9|x"},
		},
		{
			name:    "unchanged columns are kept",
			changes: []*apply.Change{Change(items, upd, `{"id":1}`, "", `{"id":1,"name":"one!","qty":12}`, "note")},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one!|big note|12|x", "2|two|∅|20|x"},
		},
		{
			name: "rows with different unchanged columns",
			changes: []*apply.Change{Change(items, upd, `{"id":1}`, "", `{"id":1,"name":"a","qty":1}`, "note"),
				Change(items, upd, `{"id":2}`, "", `{"id":2,"name":"b","note":"n2","qty":2}`),
				Change(items, upd, `{"id":2}`, "", `{"id":2,"qty":3}`, "name", "note")},
			query: `SELECT * FROM items ORDER BY id`,
			want:  []string{"1|a|big note|1|x", "2|b|n2|3|x"},
		},
		{
			name:    "key outside after",
			changes: []*apply.Change{Change(items, upd, `{"id":2}`, "", `{"qty":22}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|∅|22|x"},
		},
		{
			name:    "delete",
			changes: []*apply.Change{Change(items, del, `{"id":1}`, `{"id":1}`, ""), Change(items, del, `{"id":7}`, `{"id":7}`, "")},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"2|two|∅|20|x"},
		},
		{
			name:    "key change",
			changes: []*apply.Change{Change(items, upd, `{"id":4}`, `{"id":1}`, `{"id":4,"name":"four","qty":40}`, "note")},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"2|two|∅|20|x", "4|four|big note|40|x"},
		},
		{
			name:    "key change of a missing row inserts it",
			changes: []*apply.Change{Change(items, upd, `{"id":6}`, `{"id":8}`, `{"id":6,"name":"six","note":null,"qty":6}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|one|big note|10|x", "2|two|∅|20|x", "6|six|∅|6|x"},
		},
		{
			name:    "key change of part of a two-column key",
			changes: []*apply.Change{Change(pairs, upd, `{"a":1,"b":"y"}`, `{"a":1,"b":"x"}`, `{"a":1,"b":"y","v":"new"}`)},
			query:   `SELECT * FROM pairs ORDER BY a, b`,
			want:    []string{"1|y|new"},
		},
		{
			name:    "same key in before is no key change",
			changes: []*apply.Change{Change(pairs, upd, `{"a":1,"b":"x"}`, `{"a":1,"b":"x","v":"old"}`, `{"a":1,"b":"x","v":"new"}`)},
			query:   `SELECT * FROM pairs ORDER BY a, b`,
			want:    []string{"1|x|new"},
		},
		{
			name:    "delete then insert of one key",
			changes: []*apply.Change{Change(items, del, `{"id":1}`, `{"id":1}`, ""), Change(items, ins, `{"id":1}`, "", `{"id":1,"name":"again","note":null,"qty":1}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"1|again|∅|1|x", "2|two|∅|20|x"},
		},
		{
			name: "insert then delete of one key",
			changes: []*apply.Change{Change(items, ins, `{"id":3}`, "", `{"id":3,"name":"three","note":null,"qty":3}`),
				Change(items, del, `{"id":3}`, `{"id":3}`, "")},
			query: `SELECT * FROM items ORDER BY id`,
			want:  []string{"1|one|big note|10|x", "2|two|∅|20|x"},
		},
		{
			name: "two updates of one key",
			changes: []*apply.Change{Change(items, upd, `{"id":2}`, "", `{"id":2,"name":"a","note":null,"qty":1}`),
				Change(items, upd, `{"id":1}`, "", `{"id":1,"name":"b","note":"c","qty":2}`),
				Change(items, upd, `{"id":2}`, "", `{"id":2,"name":"d","note":null,"qty":3}`)},
			query: `SELECT * FROM items ORDER BY id`,
			want:  []string{"1|b|c|2|x", "2|d|∅|3|x"},
		},
		{
			name:    "truncate",
			changes: []*apply.Change{Change(items, ins, `{"id":3}`, "", `{"id":3,"name":"three","note":null,"qty":3}`), Change(items, trc, "", "", ""), Change(items, ins, `{"id":4}`, "", `{"id":4,"name":"four","note":null,"qty":4}`)},
			query:   `SELECT * FROM items ORDER BY id`,
			want:    []string{"4|four|∅|4|x"},
		},
		{
			name:    "no key: insert",
			changes: []*apply.Change{Change(logs, ins, "", "", `{"msg":"new","n":3}`), Change(logs, ins, "", "", `{"msg":"dup","n":1}`)},
			query:   `SELECT * FROM logs ORDER BY msg, n`,
			want:    []string{"dup|1", "dup|1", "dup|1", "new|3", "other|2"},
		},
		{
			name:    "no key: update one of two equal rows",
			changes: []*apply.Change{Change(logs, upd, "", `{"msg":"dup","n":1}`, `{"msg":"dup","n":5}`)},
			query:   `SELECT * FROM logs ORDER BY msg, n`,
			want:    []string{"dup|1", "dup|5", "other|2"},
		},
		{
			name:    "no key: delete one of two equal rows",
			changes: []*apply.Change{Change(logs, del, "", `{"msg":"dup","n":1}`, "")},
			query:   `SELECT * FROM logs ORDER BY msg, n`,
			want:    []string{"dup|1", "other|2"},
		},
		{
			name: "no key: delete both equal rows, and a missing one",
			changes: []*apply.Change{Change(logs, del, "", `{"msg":"dup","n":1}`, ""), Change(logs, del, "", `{"msg":"dup","n":1}`, ""),
				Change(logs, del, "", `{"msg":"dup","n":1}`, "")},
			query: `SELECT * FROM logs ORDER BY msg, n`,
			want:  []string{"other|2"},
		},
		{
			name:    "no key: null matches null",
			changes: []*apply.Change{Change(logs, ins, "", "", `{"msg":null,"n":null}`), Change(logs, upd, "", `{"msg":null,"n":null}`, `{"msg":"was null","n":null}`)},
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
				e := s.NewEnv(t)
				e.Exec(s.OpsDDL)
				ctx := Context(t)
				if err := e.Target.Prepare(ctx, "s", []*router.TableSchema{items, pairs, logs}); err != nil {
					t.Fatalf("prepare: %v", err)
				}
				if err := Run(ctx, e.Target, isolate, Record(1), tt.changes...); err != nil {
					t.Fatalf("apply: %v", err)
				}
				if got := e.Rows(tt.query); !slices.Equal(got, tt.want) {
					t.Errorf("%s\n got %q\nwant %q", tt.query, got, tt.want)
				}
			})
		}
	}
}

// Groups applies more rows than one statement holds, updates and deletes
// of repeating keys of the items table of Tables, and checks the result
// against what the changes say.
func (s Suite) Groups(t *testing.T) {
	items, _, _ := Tables(s.Schema)
	e := s.NewEnv(t)
	e.Exec(`CREATE TABLE items (id integer PRIMARY KEY, name text, note text, qty integer)`)
	ctx := Context(t)
	if err := e.Target.Prepare(ctx, "s", []*router.TableSchema{items}); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	var changes []*apply.Change
	want := map[int]string{}
	for i := range 2500 {
		id := i % 1200 // keys repeat within a group
		changes = append(changes, Change(items, capture.OpUpdate, Key(id), "", RowJSON(id, i)))
		want[id] = RowText(id, i)
		if i%7 == 0 {
			changes = append(changes, Change(items, capture.OpDelete, Key(id+1), Key(id+1), ""))
			delete(want, id+1)
		}
	}
	if err := Run(ctx, e.Target, false, Record(1), changes...); err != nil {
		t.Fatal(err)
	}
	got := e.Rows(`SELECT id, name, note, qty FROM items ORDER BY id`)
	var wantRows []string
	for id := range 1300 {
		if w, ok := want[id]; ok {
			wantRows = append(wantRows, w)
		}
	}
	if !slices.Equal(got, wantRows) {
		t.Errorf("got %d rows, want %d; first difference at %d", len(got), len(wantRows), FirstDiff(got, wantRows))
	}
}
