package apply

import (
	"slices"
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

func TestRemovedTables(t *testing.T) {
	id := func(name string) capture.TableID { return capture.TableID{Schema: "public", Name: name} }
	scope := func(tables ...[2]string) *scopes.Scope {
		s := &scopes.Scope{Name: "s", Source: "app"}
		for _, tt := range tables {
			s.Tables = append(s.Tables, &scopes.Table{ID: id(tt[0]), Target: id(tt[1])})
		}
		return s
	}
	old := scope([2]string{"a", "a"}, [2]string{"b", "b"}, [2]string{"c", "x"}, [2]string{"d", "x"}, [2]string{"e", "e"})
	for _, tc := range []struct {
		name   string
		cur    *scopes.Scope
		shared []string
		want   []string
	}{
		{name: "nothing removed", cur: old, want: nil},
		{name: "one table removed", cur: scope([2]string{"a", "a"}, [2]string{"c", "x"}, [2]string{"d", "x"}, [2]string{"e", "e"}), want: []string{"b"}},
		{name: "scope removed: each target table once", cur: scope(), want: []string{"a", "b", "x", "e"}},
		{name: "target table still written by the scope", cur: scope([2]string{"a", "a"}, [2]string{"b", "b"}, [2]string{"d", "x"}, [2]string{"e", "e"}), want: nil},
		{name: "target table written by another scope", cur: scope(), shared: []string{"a", "x"}, want: []string{"b", "e"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range RemovedTables(old, tc.cur, func(id capture.TableID) bool { return slices.Contains(tc.shared, id.Name) }) {
				got = append(got, e.Target.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("RemovedTables = %v, want %v", got, tc.want)
			}
		})
	}
}
