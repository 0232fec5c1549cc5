package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRenderScopes(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	started := now.Add(-100 * time.Second).Format(time.RFC3339)
	tests := []struct {
		name    string
		doc     string // a /scopes document
		want    []string
		notWant []string
	}{
		{
			name: "snapshot half done",
			doc: `{"nats":{"connected":true,"state":"CONNECTED"},
				"sources":[{"name":"app","kind":"postgres","state":"streaming","status":{"snapshots_pending":2,
					"snapshot":{"scope":"items","table":"public.item","rows":500,"estimated_rows":1000,"percent":50,"started":"` + started + `"}}}],
				"scopes":[{"name":"items","source":"app","publishing":{"scope":"items"},
					"apply":[{"target":"replica","state":"applying","lag_seconds":0.25,"rows_applied":500,"rows_parked":0}]}]}`,
			want: []string{
				"NATS connected",
				"app     postgres  streaming",
				"items  publishing  replica  applying  0.2s  500      0",
				"items public.item (source app, 2 more tables to copy)",
				"  [###############---------------] 500 / 1000 rows  50.0%  ETA 1m40s",
			},
		},
		{
			name: "two-way conflicts",
			doc: `{"nats":{"connected":true},"sources":[],
				"scopes":[{"name":"ab","source":"a","publishing":{"scope":"ab"},
					"apply":[{"target":"tb","state":"applying","rows_applied":9,"rows_parked":0,"conflicts":3,"degraded":true}]}]}`,
			want: []string{"ab     publishing  tb      applying  0.0s  9        0       3 conflicts"},
		},
		{
			name: "no estimate",
			doc: `{"nats":{"connected":true},"sources":[{"name":"app","kind":"mysql","state":"streaming","status":{
					"snapshot":{"scope":"items","table":"shop.item","rows":700,"estimated_rows":-1,"percent":0,"started":"` + started + `"}}}],
				"scopes":[]}`,
			want:    []string{"items shop.item (source app)", "  700 rows, no estimate"},
			notWant: []string{"ETA ", "["},
		},
		{
			name: "paused scope",
			doc: `{"nats":{"connected":true},"sources":[{"name":"app","kind":"postgres","state":"streaming","status":{}}],
				"scopes":[{"name":"items","source":"app","paused":true,"paused_since":"` + now.Add(-5*time.Minute).Format(time.RFC3339) + `",
					"publishing":{"scope":"items"},"apply":[{"target":"replica","state":"paused"},{"target":"dw","state":"paused"}]}]}`,
			want: []string{
				"items  paused for 5m0s  replica  paused  0.0s  0        0",
				"                        dw       paused  0.0s  0        0",
			},
			notWant: []string{"SNAPSHOTS"},
		},
		{
			name: "failed worker and source",
			doc: `{"nats":{"connected":false,"state":"RECONNECTING"},
				"sources":[{"name":"other","kind":"postgres","state":"failed","error":"table public.note is gone","status":null}],
				"scopes":[{"name":"notes","source":"other","apply":[{"target":"replica","state":"failed","error":"apply: column x does not exist","rows_applied":3,"rows_parked":1}]},
					{"name":"logs","source":"other","apply":[]}]}`,
			want: []string{
				"NATS not connected: RECONNECTING",
				"other   postgres  failed  table public.note is gone",
				"notes  not publishing  replica  failed  0.0s  3        1       apply: column x does not exist",
				"logs   not publishing  -",
			},
		},
		{
			name: "publish failed, worker waiting, copy past its estimate",
			doc: `{"nats":{"connected":true},"sources":[{"name":"app","kind":"postgres","state":"streaming","status":{
					"snapshot":{"scope":"orders","table":"public.order","rows":1200,"estimated_rows":1000,"percent":100,"started":"` + started + `"}}}],
				"scopes":[{"name":"orders","source":"app","publishing":{"scope":"orders","error":"publish: nats: timeout"},
					"apply":[{"target":"replica","state":"waiting","waiting_for":["items","users"]}]}]}`,
			want: []string{
				"orders  publish failed  replica  waiting  0.0s  0        0       publish: nats: timeout; waiting for items, users",
				"  [##############################] 1200 / 1000 rows  100.0%  ETA -",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc scopesDoc
			if err := json.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatal(err)
			}
			got := renderScopes(doc, now)
			lines := map[string]bool{}
			for _, l := range strings.Split(got, "\n") {
				lines[strings.TrimRight(l, " ")] = true
			}
			for _, w := range tt.want {
				if !lines[w] {
					t.Errorf("no line %q in\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%q in\n%s", w, got)
				}
			}
		})
	}
}
