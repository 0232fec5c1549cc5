// Package applytest holds the tests every apply.Target must pass, run by
// each engine's tests against its real server, and the helpers they
// share to build tables, changes and checkpoint records.
//
// This package imports no database driver: an engine's tests give it an
// Env, a Target and a connection to check the target database with.
package applytest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/router"
)

// Env is one test's target database, made by an engine's tests.
type Env struct {
	// Target writes to the test's database; scope_info included, it
	// holds nothing yet.
	Target apply.Target
	// Exec runs statements on the test's database; an error fails the
	// test.
	Exec func(stmts ...string)
	// Rows returns a query's rows, each as its columns' text joined by
	// "|", NULL as "∅"; an error fails the test.
	Rows func(query string) []string
}

// NewEnv returns an Env on a database of t's own.
type NewEnv func(t testing.TB) Env

// Schema describes a PostgreSQL scope table: target "schema.name" (no
// schema: the target's default, as a MySQL DSN's database), key columns,
// and columns as "name type".
func Schema(target string, key []string, cols ...string) *router.TableSchema {
	s, n, ok := strings.Cut(target, ".")
	if !ok {
		s, n = "", target
	}
	ts := &router.TableSchema{Scope: "s", SourceKind: "postgres", Source: capture.TableID{Schema: "public", Name: n},
		Target: capture.TableID{Schema: s, Name: n}, Key: key}
	for _, c := range cols {
		name, typ, _ := strings.Cut(c, " ")
		ts.Columns = append(ts.Columns, router.ColumnSchema{Name: name, Type: typ})
	}
	return ts
}

// Obj parses a JSON object of wire values; "" is nil.
func Obj(s string) map[string]json.RawMessage {
	if s == "" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(fmt.Sprintf("bad test JSON %s: %v", s, err))
	}
	return m
}

// Change builds a change of ts: key, before and after as JSON objects.
func Change(ts *router.TableSchema, op capture.Op, key, before, after string, unchanged ...string) *apply.Change {
	return &apply.Change{Table: ts, Op: op, Key: Obj(key), Before: Obj(before), After: Obj(after), Unchanged: unchanged}
}

// Record is a checkpoint record for scope "s" of source "app".
func Record(pos capture.Position) checkpoint.Record {
	return checkpoint.Record{Scope: "s", Source: "app", ScopeVersion: 1, Position: pos, StreamSeq: uint64(pos),
		AppliedAt: time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)}
}

// Run applies changes in one transaction of tg and commits it with rec.
// It returns the first error.
func Run(ctx context.Context, tg apply.Target, isolate bool, rec checkpoint.Record, changes ...*apply.Change) error {
	tx, err := tg.Begin(ctx, isolate)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, c := range changes {
		if err := tx.Apply(ctx, c); err != nil {
			return err
		}
	}
	return tx.Commit(ctx, rec)
}

// Context returns a context that ends with t, or after two minutes.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Key is the key {"id": id} of the items table.
func Key(id int) string { return `{"id":` + strconv.Itoa(id) + `}` }

// RowJSON is the items row of id with version v, as JSON.
func RowJSON(id, v int) string {
	return `{"id":` + strconv.Itoa(id) + `,"name":"n` + strconv.Itoa(v) + `","note":null,"qty":` + strconv.Itoa(v) + `}`
}

// RowText is the items row of id with version v, as Env.Rows gives it.
func RowText(id, v int) string {
	return strconv.Itoa(id) + "|n" + strconv.Itoa(v) + "|∅|" + strconv.Itoa(v)
}

// FirstDiff returns the first index at which a and b differ.
func FirstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
