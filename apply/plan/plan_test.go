package plan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

// recorder is a Dialect that records what is written: op, then each
// column's name and value.
type recorder struct {
	tables map[capture.TableID]*Table
	row    []string
	writes []string
}

func (r *recorder) Table(id capture.TableID) (*Table, *Table, bool) {
	t, ok := r.tables[id]
	return t, t, ok
}

func (r *recorder) Reset() { r.row = r.row[:0] }

func (r *recorder) Put(tb *Table, i int, raw json.RawMessage) error {
	if string(raw) == `"bad"` {
		return errors.New("bad value")
	}
	r.row = append(r.row, string(raw))
	return nil
}

func (r *recorder) Write(tb *Table, o Op, cols []int, c *apply.Change) {
	w := string(o)
	for i, v := range r.row {
		name := "old" // MoveKey's old key values follow cols
		if i < len(cols) {
			name = tb.Names[cols[i]]
		}
		w += " " + name + "=" + v
	}
	r.writes = append(r.writes, w)
}

func TestAdd(t *testing.T) {
	schemas := map[string]*router.TableSchema{
		"items": applytest.Schema("public.items", []string{"id"}, "id integer", "name text", "qty integer"),
		"logs":  applytest.Schema("public.logs", nil, "msg text", "n integer"),
	}
	tables := map[capture.TableID]*Table{}
	for _, ts := range schemas {
		tb, err := NewTable(ts, ts.Target)
		if err != nil {
			t.Fatal(err)
		}
		tables[ts.Target] = &tb
	}
	ch := func(table string, op capture.Op, key, before, after string, unchanged ...string) *apply.Change {
		return &apply.Change{Table: schemas[table], Op: op, Key: applytest.Obj(key), Before: applytest.Obj(before), After: applytest.Obj(after), Unchanged: unchanged}
	}
	tests := []struct {
		name    string
		c       *apply.Change
		want    []string
		wantErr string // in the *apply.InvalidError, "" for none
	}{
		{name: "insert upserts", c: ch("items", capture.OpInsert, `{"id":1}`, "", `{"id":1,"name":"a","qty":2}`),
			want: []string{"U id=1 name=\"a\" qty=2"}},
		{name: "key from Key", c: ch("items", capture.OpUpdate, `{"id":1}`, "", `{"qty":3}`),
			want: []string{"U id=1 qty=3"}},
		{name: "unchanged values update", c: ch("items", capture.OpUpdate, `{"id":1}`, "", `{"id":1,"qty":3}`, "name"),
			want: []string{"P id=1 qty=3"}},
		{name: "a re-land's partial row updates what it finds", c: ch("items", capture.OpRead, `{"id":1}`, "", `{"id":1,"qty":3}`, "name"),
			want: []string{"L id=1 qty=3"}},
		{name: "key change moves the row, old key last", c: ch("items", capture.OpUpdate, `{"id":2}`, `{"id":1}`, `{"id":2,"name":"b","qty":3}`),
			want: []string{"M id=2 name=\"b\" qty=3 old=1"}},
		{name: "delete by Before's key", c: ch("items", capture.OpDelete, "", `{"id":4,"name":"x"}`, ""),
			want: []string{"D id=4"}},
		{name: "truncate", c: ch("items", capture.OpTruncate, "", "", ""), want: []string{"T"}},
		{name: "keyless insert", c: ch("logs", capture.OpInsert, "", "", `{"msg":"m","n":1}`),
			want: []string{"I msg=\"m\" n=1"}},
		{name: "keyless update deletes the old row and inserts", c: ch("logs", capture.OpUpdate, "", `{"msg":"m","n":1}`, `{"msg":"m","n":2}`),
			want: []string{"R msg=\"m\" n=1", "I msg=\"m\" n=2"}},
		{name: "unknown column", c: ch("items", capture.OpInsert, `{"id":1}`, "", `{"id":1,"nope":1}`), wantErr: "column nope: not a column of public.items"},
		{name: "no key", c: ch("items", capture.OpInsert, "", "", `{"name":"a"}`), wantErr: "column id: key column missing"},
		{name: "bad value", c: ch("items", capture.OpInsert, `{"id":1}`, "", `{"id":1,"name":"bad"}`), wantErr: "column name: bad value"},
		{name: "keyless delete without old row", c: ch("logs", capture.OpDelete, "", "", ""), wantErr: "no old row"},
		{name: "no new row", c: ch("items", capture.OpUpdate, `{"id":1}`, "", ""), wantErr: "no new row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{tables: tables}
			p := New[*Table]("replica", r)
			err := p.Add(tt.c)
			if tt.wantErr != "" {
				var ie *apply.InvalidError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Add = %v, want an InvalidError with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, r.writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddUnpreparedTable(t *testing.T) {
	p := New[*Table]("replica", &recorder{})
	c := &apply.Change{Table: &router.TableSchema{Target: capture.TableID{Schema: "public", Name: "x"}}, Op: capture.OpInsert}
	if err := p.Add(c); err == nil || !strings.Contains(err.Error(), "table public.x was not prepared at target replica") {
		t.Fatalf("Add = %v, want the table named", err)
	}
}

func TestNewTableUnpublishedKey(t *testing.T) {
	ts := applytest.Schema("public.items", []string{"id", "nope"}, "id integer", "name text")
	if _, err := NewTable(ts, ts.Target); err == nil || err.Error() != "key column nope of public.items is not published" {
		t.Fatalf("NewTable = %v, want the unpublished key column named", err)
	}
}
