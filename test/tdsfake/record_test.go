package tdsfake

// Record and replay, proved against the fake itself (no real server can
// run here): a Recorder between go-mssqldb and the fake saves each
// request and reply; a Replay of the transcript answers the same
// queries with the same bytes. TestReplayTestdata replays the
// transcripts recorded against real servers (make test-sqlserver with
// SYNCD_TEST_MSSQL_RECORD), of which there are none yet.

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

func TestRecordReplay(t *testing.T) {
	const q, bad = "SELECT name, n FROM t WHERE id = @p1 AND name <> @p2", "SELECT * FROM missing"
	f := New(t, map[string]Result{
		q:   {Cols: []Type{NVarchar, Int8}, Rows: [][]any{{"héllo", int64(1) << 40}, {nil, nil}}},
		bad: {ErrNo: 208, Msg: "Invalid object name 'missing'."},
	})
	rec, err := NewRecorder(f.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	query := func(dsn string) ([]string, error) {
		db, err := sql.Open("sqlserver", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(context.Background(), q, int64(7), "x")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var name sql.NullString
			var n sql.NullInt64
			if err := rows.Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%v/%v", name, n))
		}
		_, err = db.Exec(bad)
		return got, err
	}
	want := []string{"{héllo true}/{1099511627776 true}", "{ false}/{0 false}"}
	got, err := query(fmt.Sprintf("sqlserver://syncd:secret@%s?database=erp&encrypt=disable", rec.Addr()))
	if !slices.Equal(got, want) || err == nil {
		t.Fatalf("through the recorder: %q, %v; want %q and an error", got, err, want)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "t.json")
	if err := rec.Save(path); err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTranscript(path)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range tr.Exchanges {
		kinds = append(kinds, e.Kind+" "+e.Statement)
	}
	if !slices.Equal(kinds, []string{"rpc " + q, "batch " + bad}) {
		t.Fatalf("recorded %q", kinds)
	}
	if p := tr.Exchanges[0].Params; len(p) != 2 || p[0].Type != "int64" || p[1].Type != "string" || p[1].Value != "x" {
		t.Errorf("recorded parameters %+v, want int64 7 and string x", p)
	}
	if failed(tr.Exchanges[0].Reply) || !failed(tr.Exchanges[1].Reply) {
		t.Errorf("recorded replies: the query failed %v, the bad one %v", failed(tr.Exchanges[0].Reply), failed(tr.Exchanges[1].Reply))
	}

	// The replay answers with the recorded bytes.
	replay := Replay(t, tr)
	got, err = query(replay.DSN())
	if !slices.Equal(got, want) || err == nil {
		t.Fatalf("replayed: %q, %v; want %q and an error", got, err, want)
	}
	ReplayTranscript(t, tr)
}

// TestReplayTestdata replays each transcript in testdata/transcripts
// through go-mssqldb (ReplayTranscript).
func TestReplayTestdata(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "transcripts", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Skip("no transcripts of a real SQL Server in testdata/transcripts: record them with make test-sqlserver SYNCD_TEST_MSSQL_DSN=… SYNCD_TEST_MSSQL_RECORD=$PWD/test/tdsfake/testdata/transcripts")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			tr, err := LoadTranscript(p)
			if err != nil {
				t.Fatal(err)
			}
			ReplayTranscript(t, tr)
		})
	}
}
