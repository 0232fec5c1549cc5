package router

import (
	"slices"
	"testing"

	"github.com/syncd-dev/syncd/scopes"
)

// TestGroupStreams: spokes of one template and source share a stream,
// other scopes have their own, a scope keeps the stream that holds its
// subjects, and one whose subjects are in another source's template
// stream is refused.
func TestGroupStreams(t *testing.T) {
	spoke := func(name, source string) *scopes.Scope {
		return &scopes.Scope{Name: name, Source: source, Template: "spoke"}
	}
	own := &scopes.Scope{Name: "all", Source: "app"}
	tests := []struct {
		name    string
		list    []*scopes.Scope
		byScope map[string]string
		want    map[string][]string // stream: scopes
		wantErr bool
	}{
		{
			name: "new",
			list: []*scopes.Scope{spoke("a", "app"), own, spoke("b", "app"), spoke("c", "hub")},
			want: map[string][]string{"SYNCD_SPOKE@APP": {"a", "b"}, "SYNCD_ALL": {"all"}, "SYNCD_SPOKE@HUB": {"c"}},
		},
		{
			name:    "a spoke keeps its own stream",
			list:    []*scopes.Scope{spoke("a", "app"), spoke("b", "app")},
			byScope: map[string]string{"a": "SYNCD_A"},
			want:    map[string][]string{"SYNCD_A": {"a"}, "SYNCD_SPOKE@APP": {"b"}},
		},
		{
			name:    "a spoke of another source's stream",
			list:    []*scopes.Scope{spoke("a", "app")},
			byScope: map[string]string{"a": "SYNCD_SPOKE@HUB"},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			groups, err := groupStreams(tt.list, tt.byScope, map[string][]string{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("groupStreams: %v, want error %v", err, tt.wantErr)
			}
			got := map[string][]string{}
			for _, g := range groups {
				for _, s := range g.scopes {
					got[g.name] = append(got[g.name], s.Name)
					for _, subj := range streamSubjects(s.Name) {
						if !slices.Contains(g.subjects, subj) {
							t.Errorf("stream %s lacks subject %s of scope %s", g.name, subj, s.Name)
						}
					}
				}
			}
			if !tt.wantErr && len(got) != len(tt.want) {
				t.Fatalf("streams %v, want %v", got, tt.want)
			}
			for name, list := range tt.want {
				if !slices.Equal(got[name], list) {
					t.Errorf("stream %s has %v, want %v", name, got[name], list)
				}
			}
		})
	}
}
