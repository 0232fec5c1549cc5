package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/capture"
)

// Inspector reads a source's catalog and counts rows for syncd plan, on
// one connection whose transactions are read-only
// (default_transaction_read_only). It is not safe for concurrent use.
type Inspector struct {
	conn *pgx.Conn
}

// Inspect connects to the source at dsn.
func Inspect(ctx context.Context, dsn string) (*Inspector, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse dsn: %w", err)
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.RuntimeParams["application_name"] = "syncd plan"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return &Inspector{conn: conn}, nil
}

// Close closes the connection.
func (i *Inspector) Close(ctx context.Context) error { return i.conn.Close(ctx) }

// Columns returns the table's columns in order, or nil if there is no
// such table.
func (i *Inspector) Columns(ctx context.Context, id capture.TableID) ([]string, error) {
	var cols []string
	err := i.conn.QueryRow(ctx, `SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}')
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
HAVING to_regclass($1) IS NOT NULL`, quoteTable(id)).Scan(&cols)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", id, err)
	}
	return cols, nil
}

// Count returns how many rows of the table match where (SQL of the
// PostgreSQL filter dialect with its args; "" for every row). A table
// the statistics put under capture.ExactCountBelow rows (and 64 MiB) is
// counted; a larger one is estimated from EXPLAIN's plan rows, which
// reads no rows.
func (i *Inspector) Count(ctx context.Context, id capture.TableID, where string, args []any) (capture.RowCount, error) {
	var tuples float64
	var bytes int64
	err := i.conn.QueryRow(ctx, `SELECT reltuples::float8, pg_catalog.pg_relation_size(oid) FROM pg_catalog.pg_class WHERE oid = to_regclass($1)`,
		quoteTable(id)).Scan(&tuples, &bytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return capture.RowCount{}, fmt.Errorf("count rows of %s: no such table", id)
	}
	if err != nil {
		return capture.RowCount{}, fmt.Errorf("count rows of %s: %w", id, err)
	}
	q := "SELECT 1 FROM " + quoteTable(id)
	if where != "" {
		q += " WHERE " + where
	}
	if tuples < capture.ExactCountBelow && bytes < 64<<20 {
		var n int64
		if err := i.conn.QueryRow(ctx, "SELECT count(*) FROM ("+q+") AS t", args...).Scan(&n); err != nil {
			return capture.RowCount{}, fmt.Errorf("count rows of %s: %w", id, err)
		}
		return capture.RowCount{Rows: n, Exact: true}, nil
	}
	var plan []byte
	if err := i.conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q, args...).Scan(&plan); err != nil {
		return capture.RowCount{}, fmt.Errorf("estimate rows of %s: %w", id, err)
	}
	var doc []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &doc); err != nil || len(doc) == 0 {
		return capture.RowCount{}, fmt.Errorf("estimate rows of %s: unexpected EXPLAIN output %q", id, plan)
	}
	return capture.RowCount{Rows: int64(doc[0].Plan.Rows)}, nil
}

// PublicationState is what a publication holds.
type PublicationState struct {
	Exists    bool
	AllTables bool              // FOR ALL TABLES: syncd leaves its table list alone
	Tables    []capture.TableID // sorted
}

// Publication reads the publication's state.
func (i *Inspector) Publication(ctx context.Context, name string) (PublicationState, error) {
	var st PublicationState
	err := i.conn.QueryRow(ctx, "SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = $1", name).Scan(&st.AllTables)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read publication %s: %w", name, err)
	}
	st.Exists = true
	rows, err := i.conn.Query(ctx, "SELECT schemaname::text, tablename::text FROM pg_catalog.pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2", name)
	if err != nil {
		return st, fmt.Errorf("read publication %s: %w", name, err)
	}
	var id capture.TableID
	if _, err := pgx.ForEachRow(rows, []any{&id.Schema, &id.Name}, func() error {
		st.Tables = append(st.Tables, id)
		return nil
	}); err != nil {
		return st, fmt.Errorf("read publication %s: %w", name, err)
	}
	return st, nil
}

// SlotExists reports whether the replication slot exists.
func (i *Inspector) SlotExists(ctx context.Context, slot string) (bool, error) {
	var exists bool
	if err := i.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)", slot).Scan(&exists); err != nil {
		return false, fmt.Errorf("read slot %s: %w", slot, err)
	}
	return exists, nil
}
