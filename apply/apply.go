// Package apply writes scope streams into target databases. A Worker per
// (scope, target) consumes the scope's stream in order and applies whole
// source transactions, recording the scope's checkpoint (its scope_info
// row) in the same target transaction. Dialect writers, the Targets, live
// in subpackages named after the technology (apply/postgres).
//
// This package imports no database driver.
package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint"
	"github.com/syncd-dev/syncd/router"
)

// Change is one row change to apply, as the scope message carries it.
// Values are raw JSON in the wire format (docs/wire-format.md): the target
// converts each to its column's type.
type Change struct {
	// Table is the scope table's schema: target name, columns, key.
	Table *router.TableSchema
	// Op is OpInsert, OpRead (snapshot), OpUpdate, OpDelete or OpTruncate.
	// Rows entering a scope arrive as inserts, rows leaving it as deletes.
	Op capture.Op
	// Key holds the key columns: the new key for inserts and updates, the
	// old one for deletes. Nil for truncates and tables without a key.
	Key map[string]json.RawMessage
	// Before is the old row as far as the source sent it (all columns with
	// REPLICA IDENTITY FULL, the key columns otherwise), or nil.
	Before map[string]json.RawMessage
	// After is the new row for inserts, reads and updates. Columns listed
	// in Unchanged are missing from it and must be left as they are.
	After     map[string]json.RawMessage
	Unchanged []string
	// Resync marks the changes of a copy for this target alone (reason
	// resync): its truncate must not lock the table's readers out, since
	// the target is in use, so it deletes the rows instead.
	Resync bool
	// Committed, set in a two-way scope's tables under newer_wins, is
	// when the change committed at the database it was first written
	// to (the envelope's source.commit_ts). A target that keeps commit
	// times records it as the commit time of the rows it writes
	// (PostgreSQL: the transaction's replication origin timestamp), so
	// that a later conflict compares the times the rows were first
	// written, wherever they were applied since; and Prober compares it
	// with the row's.
	Committed time.Time
}

// DeleteKey returns the value of key column name of a delete: Key's, or
// Before's where Key lacks it; an InvalidError if neither has it.
func (c *Change) DeleteKey(name string) (json.RawMessage, error) {
	if raw, ok := c.Key[name]; ok {
		return raw, nil
	}
	if raw, ok := c.Before[name]; ok {
		return raw, nil
	}
	return nil, &InvalidError{Column: name, Err: errors.New("key column missing")}
}

// KeyMoved reports whether the change moves its row to another key: its
// old row holds key values other than the new ones (After's, or Key's
// where After lacks them).
func (c *Change) KeyMoved() bool {
	for _, name := range c.Table.Key {
		old, ok := c.Before[name]
		if !ok {
			continue
		}
		cur, ok := c.After[name]
		if !ok {
			cur = c.Key[name]
		}
		if !bytes.Equal(bytes.TrimSpace(old), bytes.TrimSpace(cur)) {
			return true
		}
	}
	return false
}

// Target is one target database.
type Target interface {
	// Prepare makes the target ready for a scope: it creates the
	// scope_info table if needed and, for each table, creates it when it
	// is missing and the target may create tables, or fails with an error
	// naming the table. It may be called again with more tables.
	Prepare(ctx context.Context, scope string, tables []*router.TableSchema) error
	// Checkpoint returns the scope_info row of (scope, source); ok is
	// false if there is none.
	Checkpoint(ctx context.Context, scope, source string) (rec checkpoint.Record, ok bool, err error)
	// Begin starts a target transaction. With isolate, each change is
	// applied at once inside its own savepoint, so that a change the
	// target rejects fails alone, with a *RejectedError, and the
	// transaction goes on; without it, changes may be queued and batched.
	Begin(ctx context.Context, isolate bool) (Tx, error)
	// Close releases the target's connections.
	Close()
}

// Tx is one target transaction. It is used from one goroutine.
type Tx interface {
	// Apply applies c, or queues it to apply with others; an error may
	// come from an earlier queued change.
	Apply(ctx context.Context, c *Change) error
	// Commit applies what is queued, upserts rec as the scope's
	// scope_info row, and commits. After an error the transaction is
	// rolled back.
	Commit(ctx context.Context, rec checkpoint.Record) error
	// Rollback abandons the transaction; it is a no-op after Commit.
	Rollback(ctx context.Context) error
}

// SkipCounter is implemented by the Txs of targets that write
// plan.Reland statements: the re-landed rows (the partial rows of a
// changed transform's backfill) they did not find at the target, which
// were skipped rather than rejected. The worker reads it after Commit,
// counts the rows (syncd_apply_reland_skipped_rows_total) and logs them.
type SkipCounter interface {
	// RelandSkipped returns how many re-landed rows the transaction's
	// statements found no row for, so far.
	RelandSkipped() int64
}

// RejectedError is a change the target refused for what it is (a
// constraint violation, a value its column cannot hold), not for a
// passing condition: retrying it cannot succeed.
type RejectedError struct {
	// Change is the change the target rejected, when known (isolated
	// transactions know it; batched ones may not).
	Change *Change
	Err    error
}

func (e *RejectedError) Error() string {
	if e.Change == nil {
		return "target rejected a change: " + e.Err.Error()
	}
	return "target rejected " + describe(e.Change) + ": " + e.Err.Error()
}

func (e *RejectedError) Unwrap() error { return e.Err }

// IsRejected reports whether err is, or wraps, a *RejectedError.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

// describe names a change for messages: op, target table, key.
func describe(c *Change) string {
	s := c.Op.String() + " on " + c.Table.Target.String()
	if c.Key != nil {
		b, _ := json.Marshal(c.Key)
		s += " key " + string(b)
	}
	return s
}
