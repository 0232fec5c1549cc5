package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/syncd-dev/syncd/capture"
)

// Inspector reads a source's catalog and counts rows for syncd plan, on
// one connection in read-only transaction mode (SET SESSION TRANSACTION
// READ ONLY). It is not safe for concurrent use.
type Inspector struct {
	db *sql.DB
}

// Inspect connects to the source at dsn (a go-sql-driver DSN).
func Inspect(ctx context.Context, dsn string) (*Inspector, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse dsn: %w", err)
	}
	c.InterpolateParams = true
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("parse dsn: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if _, err := db.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY"); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return &Inspector{db: db}, nil
}

// Close closes the connection.
func (i *Inspector) Close() error { return i.db.Close() }

// Columns returns the table's columns in order, or nil if there is no
// such table.
func (i *Inspector) Columns(ctx context.Context, id capture.TableID) ([]string, error) {
	rows, err := i.db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position`, id.Schema, id.Name)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", id, err)
	}
	cols, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", id, err)
	}
	return cols, nil
}

// Count returns how many rows of the table match where (SQL of the MySQL
// filter dialect with its args; "" for every row). A table the
// statistics put under capture.ExactCountBelow rows is counted; a larger
// one is estimated from EXPLAIN's rows and filtered, which reads no rows.
func (i *Inspector) Count(ctx context.Context, id capture.TableID, where string, args []any) (capture.RowCount, error) {
	var tableRows sql.NullInt64
	err := i.db.QueryRowContext(ctx, `SELECT table_rows FROM information_schema.tables WHERE table_schema = ? AND table_name = ?`,
		id.Schema, id.Name).Scan(&tableRows)
	if errors.Is(err, sql.ErrNoRows) {
		return capture.RowCount{}, fmt.Errorf("count rows of %s: no such table", id)
	}
	if err != nil {
		return capture.RowCount{}, fmt.Errorf("count rows of %s: %w", id, err)
	}
	q := "SELECT 1 FROM " + quoteTable(id)
	if where != "" {
		q += " WHERE " + where
	}
	if tableRows.Int64 < capture.ExactCountBelow {
		var n int64
		if err := i.db.QueryRowContext(ctx, "SELECT count(*) FROM ("+q+") AS t", args...).Scan(&n); err != nil {
			return capture.RowCount{}, fmt.Errorf("count rows of %s: %w", id, err)
		}
		return capture.RowCount{Rows: n, Exact: true}, nil
	}
	plan, err := queryMaps(ctx, i.db, "EXPLAIN "+q, args...)
	if err != nil {
		return capture.RowCount{}, fmt.Errorf("estimate rows of %s: %w", id, err)
	}
	if len(plan) == 0 {
		return capture.RowCount{}, fmt.Errorf("estimate rows of %s: EXPLAIN returned nothing", id)
	}
	var rows, filtered float64
	fmt.Sscan(plan[0]["rows"], &rows)
	filtered = 100
	if f, ok := plan[0]["filtered"]; ok && strings.TrimSpace(f) != "" {
		fmt.Sscan(f, &filtered)
	}
	return capture.RowCount{Rows: int64(rows * filtered / 100)}, nil
}
