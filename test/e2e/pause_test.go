package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestPauseResume pauses a scope with `syncd pause`, writes 10,000 rows,
// restarts syncd while paused and resumes it through the admin API. While
// paused, capture goes on: the stream stores the rows and the slot
// confirms past them, so the source's WAL is not pinned; the target gets
// nothing, and readiness stays green. The pause survives the restart.
// Resumed, the target catches up and equals the source. Pause and resume
// require the admin token.
func TestPauseResume(t *testing.T) {
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", `CREATE TABLE item (id int PRIMARY KEY, name text)`,
			`INSERT INTO item SELECT g, 'n' || g FROM generate_series(1, 100) g`)
	}, `
scope "items" {
  source  = "app"
  targets = ["replica"]
  table "public.item" {}
}`)
	const token = "t0ken-pause"
	tokenFile := filepath.Join(r.d.Dir, "admin.token")
	writeFile(t, tokenFile, token+"\n")
	setBlock(t, r.d, "admin", fmt.Sprintf("admin {\n  listen     = %q\n  token_file = %q\n}", strings.TrimPrefix(r.d.AdminURL, "http://"), tokenFile))
	r.d.Start()
	items := []string{`SELECT * FROM item ORDER BY id`}
	waitIdentical(t, r, 2*time.Minute, items, items)

	if code, body := adminPost(t, r.d, "/scopes/items/pause", ""); code != http.StatusUnauthorized {
		t.Fatalf("pause without the token: %d %s, want 401", code, body)
	}
	if code, out := runSyncd(t, "pause", "--config", r.d.ConfigPath, "items"); code != 0 || !strings.Contains(out, `"paused": true`) {
		t.Fatalf("syncd pause: exit %d\n%s", code, out)
	}
	if code, body := adminPost(t, r.d, "/scopes/nope/pause", token); code != http.StatusNotFound {
		t.Fatalf("pause of an unknown scope: %d %s, want 404", code, body)
	}
	waitPaused(t, r.d, token)
	held := checkpointSeq(t, r.dstDSN)

	nc := connect(t, r.d)
	before, err := streamCount(t, nc, "items")
	if err != nil {
		t.Fatal(err)
	}
	r.src.Exec(t, "app", `INSERT INTO item SELECT g, 'n' || g FROM generate_series(101, 10100) g`)
	conn := pgConnect(t, r.srcDSN)
	written := currentLSN(t, conn)
	waitCount(t, nc, "items", before+10_000, time.Minute)
	waitConfirmed(t, conn, written, time.Minute)
	assertHeld(t, r, token, held)
	if m := adminGet(t, r.d, "/metrics", token); !strings.Contains(m, `syncd_scope_paused{scope="items"} 1`) {
		t.Errorf("/metrics lacks syncd_scope_paused 1 while paused")
	}
	if code, body := getStatus(t, r.d.AdminURL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz while paused: %d %s, want 200", code, body)
	}

	if code := r.d.Stop(); code != 0 {
		t.Fatalf("syncd exited %d on SIGTERM", code)
	}
	r.d.Start() // ready although paused
	waitPaused(t, r.d, token)
	assertHeld(t, r, token, held)
	if code, out := runSyncd(t, "scopes", "--config", r.d.ConfigPath); code != 0 || !strings.Contains(out, `"paused": true`) {
		t.Fatalf("syncd scopes while paused: exit %d\n%s", code, out)
	}

	code, body := adminPost(t, r.d, "/scopes/items/resume", token)
	if code != http.StatusOK || !strings.Contains(body, `"paused": false`) {
		t.Fatalf("resume: %d %s", code, body)
	}
	waitIdentical(t, r, 2*time.Minute, items, items)
	if m := adminGet(t, r.d, "/metrics", token); !strings.Contains(m, `syncd_scope_paused{scope="items"} 0`) {
		t.Errorf("/metrics lacks syncd_scope_paused 0 after resume")
	}
}

// pausedScope is what TestPauseResume reads of /scopes.
type pausedScope struct {
	Name        string
	Paused      bool
	PausedSince *time.Time `json:"paused_since"`
	Apply       []struct{ State string }
}

// scopeItems returns scope items of /scopes.
func scopeItems(t *testing.T, d *testenv.Syncd, token string) pausedScope {
	t.Helper()
	var doc struct{ Scopes []pausedScope }
	if err := json.Unmarshal([]byte(adminGet(t, d, "/scopes", token)), &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Scopes {
		if s.Name == "items" {
			return s
		}
	}
	t.Fatal("/scopes lacks scope items")
	return pausedScope{}
}

// waitPaused waits until /scopes shows scope items paused and its apply
// worker holding.
func waitPaused(t *testing.T, d *testenv.Syncd, token string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		s := scopeItems(t, d, token)
		if !s.Paused || s.PausedSince == nil || len(s.Apply) != 1 || s.Apply[0].State != "paused" {
			return fmt.Errorf("scope items in /scopes: %+v, want paused with its worker paused", s)
		}
		return nil
	})
}

// assertHeld checks that scope items is paused, its worker holding, and
// that the target has neither the rows written after row 100 nor a
// checkpoint after held.
func assertHeld(t *testing.T, r *replication, token string, held int64) {
	t.Helper()
	if s := scopeItems(t, r.d, token); !s.Paused || s.Apply[0].State != "paused" {
		t.Fatalf("scope items in /scopes: %+v, want paused with its worker paused", s)
	}
	if seq := checkpointSeq(t, r.dstDSN); seq != held {
		t.Fatalf("target checkpoint at stream message %d while paused, want %d", seq, held)
	}
	if n, _, err := checksum(t, r.dstDSN, `SELECT id FROM item ORDER BY id`); err != nil || n != 100 {
		t.Fatalf("target holds %d rows (%v) while paused, want the 100 from before the pause", n, err)
	}
}

// checkpointSeq returns the stream message of scope items that the
// target's checkpoint records.
func checkpointSeq(t *testing.T, dsn string) int64 {
	t.Helper()
	conn := pgConnect(t, dsn)
	var seq int64
	err := conn.QueryRow(context.Background(), `SELECT last_stream_seq FROM syncd_scope_info WHERE scope = 'items'`).Scan(&seq)
	if err != nil {
		t.Fatalf("read the target's checkpoint: %v", err)
	}
	return seq
}

func adminGet(t *testing.T, d *testenv.Syncd, path, token string) string {
	t.Helper()
	code, body := adminDo(t, d, http.MethodGet, path, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return body
}

func adminPost(t *testing.T, d *testenv.Syncd, path, token string) (int, string) {
	t.Helper()
	return adminDo(t, d, http.MethodPost, path, token)
}

// adminDo sends method path to d's admin server, with token unless it is
// empty.
func adminDo(t *testing.T, d *testenv.Syncd, method, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, d.AdminURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
