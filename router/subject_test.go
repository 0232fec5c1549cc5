package router

import (
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/capture"
)

func TestSubject(t *testing.T) {
	tests := []struct {
		table capture.TableID
		want  string
	}{
		{capture.TableID{Schema: "public", Name: "orders"}, "syncd.s.app.public.orders.c"},
		{capture.TableID{Schema: "my.schema", Name: "a b*>"}, "syncd.s.app.my%2Eschema.a%20b%2A%3E.c"},
		{capture.TableID{Schema: "_private", Name: "100%"}, "syncd.s.app.%5Fprivate.100%25.c"},
		{capture.TableID{Schema: "üñí", Name: "ok_name"}, "syncd.s.app.üñí.ok_name.c"},
	}
	for _, tt := range tests {
		got := Subject("s", "app", tt.table, capture.OpInsert)
		if got != tt.want {
			t.Errorf("Subject(%v) = %s, want %s", tt.table, got, tt.want)
		}
		parts, err := ParseSubject(got)
		if err != nil || parts.Table != tt.table || parts.Scope != "s" || parts.Source != "app" || parts.Op != capture.OpInsert {
			t.Errorf("ParseSubject(%s) = %+v, %v", got, parts, err)
		}
	}
	if got := StreamName("orders-eu"); got != "SYNCD_ORDERS-EU" {
		t.Errorf("StreamName = %s", got)
	}
}

func FuzzEscapeToken(f *testing.F) {
	for _, s := range []string{"public", "a.b", "_x", "%", "a b", "\x00", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		e := EscapeToken(s)
		if strings.ContainsAny(e, ". *>\t\r\n") || strings.HasPrefix(e, "_") {
			t.Fatalf("EscapeToken(%q) = %q is not a safe token", s, e)
		}
		back, err := UnescapeToken(e)
		if err != nil || back != s {
			t.Fatalf("UnescapeToken(EscapeToken(%q)) = %q, %v", s, back, err)
		}
	})
}
