package tdsfake

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"

	_ "github.com/microsoft/go-mssqldb" // the "sqlserver" driver ReplayTranscript drives
)

// LoadTranscript reads a transcript a Recorder saved.
func LoadTranscript(path string) (Transcript, error) {
	var tr Transcript
	b, err := os.ReadFile(path)
	if err != nil {
		return tr, fmt.Errorf("read transcript: %w", err)
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		return tr, fmt.Errorf("decode transcript %s: %w", path, err)
	}
	return tr, nil
}

// Replay returns a fake that answers each batch and RPC with the
// recorded reply of the next exchange, in order, of the same statement:
// a real server's bytes, if tr was recorded against one. Transaction
// manager requests get the fake's own answers; a statement the
// transcript does not hold fails the test.
func Replay(t *testing.T, tr Transcript) *Server {
	f := New(t, nil)
	f.Handler = &replayer{tr: tr}
	return f
}

type replayer struct {
	mu   sync.Mutex
	tr   Transcript
	next int
}

func (r *replayer) Statement(text string, _ []any) (Result, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := r.next; i < len(r.tr.Exchanges); i++ {
		e := r.tr.Exchanges[i]
		if (e.Kind == "batch" || e.Kind == "rpc") && e.Statement == text {
			r.next = i + 1
			return Result{Raw: e.Reply}, true
		}
	}
	return Result{}, false
}

func (r *replayer) Transaction(string) {}

// failed reports whether a reply ends in a DONE token with its error bit
// set ([MS-TDS] 2.2.7.6): the request failed.
func failed(reply []byte) bool {
	n := len(reply)
	return n >= 13 && (reply[n-13] == tokDone || reply[n-13] == 0xFE || reply[n-13] == 0xFF) && reply[n-12]&doneError != 0
}

// ReplayTranscript sends each batch and RPC of tr through go-mssqldb to
// a Replay of it, reads every result set and row, and fails the test
// where the driver cannot read a reply, or succeeds where the recorded
// server failed, or fails where it succeeded. It proves the driver
// reads those replies; what syncd makes of them is left to the tests
// that drive syncd's code against a Replay.
func ReplayTranscript(t *testing.T, tr Transcript) {
	f := Replay(t, tr)
	db, err := sql.Open("sqlserver", f.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	for i, e := range tr.Exchanges {
		if e.Kind != "batch" && e.Kind != "rpc" {
			continue
		}
		var args []any
		for _, p := range e.Params {
			v, err := p.arg()
			if err != nil {
				t.Fatalf("exchange %d: %v", i, err)
			}
			args = append(args, v)
		}
		if e.Kind == "rpc" && len(args) == 0 {
			continue // an RPC without parameters is not one go-mssqldb sends for a query
		}
		err := readAll(ctx, db, e.Statement, args)
		if want := failed(e.Reply); (err != nil) != want {
			t.Errorf("exchange %d (%s): replayed, the driver says %v; the server failed: %v", i, e.Statement, err, want)
		}
	}
}

// readAll runs query and reads all its result sets and rows.
func readAll(ctx context.Context, db *sql.DB, query string, args []any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for {
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !rows.NextResultSet() {
			return rows.Err()
		}
	}
}
