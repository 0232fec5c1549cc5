package router

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// SchemaBucket is the KV bucket that holds the column schema of every
// scope table, as published: apply workers create and check target
// tables from it.
const SchemaBucket = "syncd_schemas"

// TableSchema describes a scope table as syncd publishes it.
type TableSchema struct {
	Scope      string          `json:"scope"`
	SourceKind string          `json:"source_kind"`
	Source     capture.TableID `json:"source"`
	// Target is the table's name at targets (the scope's table target).
	Target capture.TableID `json:"target"`
	// Columns are the published columns in table order: the scope's
	// column list, or all, plus the key columns, which are always
	// published in "key".
	Columns []ColumnSchema `json:"columns"`
	// Key names the primary key columns in key order; empty without one.
	Key []string `json:"key"`
}

// ColumnSchema is one published column.
type ColumnSchema struct {
	Name string `json:"name"`
	// Type is the source's type name with modifiers ("numeric(10,2)").
	Type string `json:"type"`
}

// Column returns the named column, or nil.
func (t *TableSchema) Column(name string) *ColumnSchema {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

func schemaKey(scope string, table capture.TableID) string {
	// KV keys allow only a few characters; table names allow any.
	return scope + "." + hex.EncodeToString([]byte(table.Schema)) + "." + hex.EncodeToString([]byte(table.Name))
}

// tableSchema returns the schema a plan publishes: the mapped columns of
// a scope table with a mapping.
func tableSchema(st *scopes.Table, t *capture.Table, p *plan, kind string) TableSchema {
	ts := TableSchema{Scope: st.Scope.Name, SourceKind: kind, Source: t.ID(), Target: st.Target}
	if ts.Target == (capture.TableID{}) {
		ts.Target = t.ID()
	}
	cols := slices.Clone(p.cols)
	for _, k := range p.outKey {
		if !slices.Contains(cols, k) {
			cols = append(cols, k)
		}
	}
	slices.Sort(cols)
	for _, c := range cols {
		ts.Columns = append(ts.Columns, ColumnSchema{Name: p.out.Columns[c].Name, Type: p.out.Columns[c].Type})
	}
	for _, k := range p.outKey {
		ts.Key = append(ts.Key, p.out.Columns[k].Name)
	}
	return ts
}

// putSchema records ts unless the bucket already holds the same. Columns
// the recorded schema has and ts lacks (dropped or renamed at the source)
// stay in the record, after those of ts: messages published before the
// change still carry them, and targets keep them, as syncd never drops a
// target column.
func putSchema(ctx context.Context, kv jetstream.KeyValue, ts TableSchema) error {
	key, value, changed, err := mergeSchema(ctx, kv, ts)
	if err != nil || !changed {
		return err
	}
	if _, err := kv.Put(ctx, key, value); err != nil {
		return fmt.Errorf("record schema of %s in scope %s: %w", ts.Source, ts.Scope, err)
	}
	return nil
}

// mergeSchema returns the record putSchema writes for ts: its key, its
// value, and whether that differs from what the bucket holds.
func mergeSchema(ctx context.Context, kv jetstream.KeyValue, ts TableSchema) (string, []byte, bool, error) {
	key := schemaKey(ts.Scope, ts.Source)
	e, err := kv.Get(ctx, key)
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil, false, fmt.Errorf("read schema of %s in scope %s: %w", ts.Source, ts.Scope, err)
	}
	if err == nil {
		var old TableSchema
		if err := json.Unmarshal(e.Value(), &old); err != nil {
			return "", nil, false, fmt.Errorf("read schema of %s in scope %s: %w", ts.Source, ts.Scope, err)
		}
		ts.Columns = slices.Clone(ts.Columns)
		for _, c := range old.Columns {
			if ts.Column(c.Name) == nil {
				ts.Columns = append(ts.Columns, c)
			}
		}
	}
	b := mustJSON(ts)
	return key, b, err != nil || string(e.Value()) != string(b), nil
}

// maxRecordBatch is the most records putRecords writes in one atomic
// batch: the server's limit on a batch's messages.
const maxRecordBatch = 1000

// putRecords writes values under keys of bucket, whose stream must take
// atomic batches (allowAtomicBucket), in atomic batches of up to
// maxRecordBatch: one store and fsync per batch rather than per key. The
// first record of a thousand spokes' schemas took a second one by one.
// After an error some batches may be stored; writing all again is safe.
func putRecords(ctx context.Context, nc *nats.Conn, bucket string, keys []string, values [][]byte) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	for start := 0; start < len(keys); start += maxRecordBatch {
		end := min(start+maxRecordBatch, len(keys))
		id := nuid.Next()
		for i := start; i < end; i++ {
			m := &nats.Msg{Subject: "$KV." + bucket + "." + keys[i], Data: values[i], Header: nats.Header{
				hdrBatchID:  {id},
				hdrBatchSeq: {strconv.Itoa(i - start + 1)},
			}}
			if i < end-1 {
				if err := nc.PublishMsg(m); err != nil {
					return fmt.Errorf("record %d values in bucket %s: %w", end-start, bucket, err)
				}
				continue
			}
			m.Header[hdrBatchCommit] = []string{"1"}
			if _, err := js.PublishMsg(ctx, m); err != nil {
				return fmt.Errorf("record %d values in bucket %s: %w", end-start, bucket, err)
			}
		}
	}
	return nil
}

// TableSchemas returns the recorded schemas of a scope's tables, keyed by
// source table.
func (c *Conn) TableSchemas(ctx context.Context, scope string) (map[capture.TableID]*TableSchema, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	kv, err := js.KeyValue(ctx, SchemaBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return map[capture.TableID]*TableSchema{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", SchemaBucket, err)
	}
	keys, err := kv.ListKeysFiltered(ctx, scope+".>")
	if err != nil {
		return nil, fmt.Errorf("list schemas of scope %s: %w", scope, err)
	}
	out := map[capture.TableID]*TableSchema{}
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", key, err)
		}
		var ts TableSchema
		if err := json.Unmarshal(e.Value(), &ts); err != nil {
			return nil, fmt.Errorf("read schema %s: %w", key, err)
		}
		out[ts.Source] = &ts
	}
	return out, nil
}
