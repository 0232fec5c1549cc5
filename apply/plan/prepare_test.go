package plan

import "testing"

func TestKeyClause(t *testing.T) {
	q := func(s string) string { return "[" + s + "]" }
	for _, tc := range []struct {
		key  []string
		want string
	}{
		{nil, ""},
		{[]string{"id"}, ", PRIMARY KEY ([id])"},
		{[]string{"a", "b"}, ", PRIMARY KEY ([a], [b])"},
	} {
		if got := KeyClause(tc.key, q); got != tc.want {
			t.Errorf("KeyClause(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
