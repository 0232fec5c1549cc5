package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// A one-transaction snapshot (snapshot.go) may be read by several
// connections at once: each imports the same exported snapshot (SET
// TRANSACTION SNAPSHOT, while the exporting slot's connection is still
// open) and reads a range of the table's pages by ctid (a TID range scan,
// PostgreSQL 14 and later), so tables without a key split too. Every
// connection sees exactly the snapshot's rows, and the session passes
// them all on in the one snapshot transaction, in the order they arrive:
// a copy's rows are distinct, so their order within it does not matter.

// defaultMinRangePages is the default fewest pages of a part of a
// one-transaction copy read in parallel (8 MB): smaller tables are read
// by one query.
const defaultMinRangePages = 1024

// snapshotPart is one more connection holding the snapshot.
type snapshotPart struct {
	conn *pgx.Conn
	tx   pgx.Tx
}

// importParts opens n connections, each in a REPEATABLE READ transaction
// that imports the exported snapshot name.
func (ss *session) importParts(ctx context.Context, name string, n int) ([]snapshotPart, error) {
	var parts []snapshotPart
	for range n {
		conn, err := ss.src.connectCatalog(ctx)
		if err != nil {
			closeParts(ctx, parts)
			return nil, err
		}
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err == nil {
			_, err = tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(name))
		}
		parts = append(parts, snapshotPart{conn: conn, tx: tx})
		if err != nil {
			closeParts(ctx, parts)
			return nil, fmt.Errorf("import the snapshot into a reader: %w", err)
		}
	}
	return parts, nil
}

func closeParts(ctx context.Context, parts []snapshotPart) {
	for _, p := range parts {
		p.conn.Close(context.WithoutCancel(ctx))
	}
}

// pageRanges returns the conditions that split the table read by sn
// into ranges of its pages, one per connection holding the snapshot;
// nil to read it with one query (one connection, a small table, a server
// without TID range scans). The last range is open-ended: the table's
// size is read now, not as of the snapshot, and only grows while the
// snapshot holds its rows.
func (ss *session) pageRanges(ctx context.Context, sn *snapshot) ([]string, error) {
	n := 1 + len(sn.parts)
	if n < 2 {
		return nil, nil
	}
	var version int
	var pages int64
	err := sn.tx.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, pg_relation_size($1::regclass) / current_setting('block_size')::bigint",
		quoteTable(sn.req.Table)).Scan(&version, &pages)
	if err != nil {
		return nil, fmt.Errorf("read the size of %s: %w", sn.req.Table, err)
	}
	n = int(min(int64(n), pages/int64(ss.src.cfg.MinRangePages)))
	if n < 2 || version < 140000 {
		return nil, nil
	}
	conds := make([]string, n)
	for i := range n {
		lo, hi := int64(i)*pages/int64(n), int64(i+1)*pages/int64(n)
		conds[i] = fmt.Sprintf("ctid >= '(%d,0)'::tid", lo)
		if i < n-1 {
			conds[i] += fmt.Sprintf(" AND ctid < '(%d,0)'::tid", hi)
		}
	}
	return conds, nil
}

// readParts reads query (with its WHERE clause's conditions before
// AND-ed conds[i]) on the snapshot's connection i for each range, on
// goroutines it owns, and calls each with every batch of rows, from the
// calling goroutine, as they arrive. It returns once every read has
// ended: with each's error, the first one.
func readParts(ctx context.Context, sn *snapshot, query string, conds []string, args []any, each func([][][]byte) error) error {
	txs := []pgx.Tx{sn.tx}
	for _, p := range sn.parts {
		txs = append(txs, p.tx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan [][][]byte, 2*len(conds))
	for i, cond := range conds {
		g.Go(func() error {
			rows, err := txs[i].Query(gctx, query+cond, append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			var batch [][][]byte
			for rows.Next() {
				raw := rows.RawValues()
				row := make([][]byte, len(raw))
				for c, v := range raw {
					if v != nil {
						row[c] = append(make([]byte, 0, len(v)), v...)
					}
				}
				if batch = append(batch, row); len(batch) == 500 {
					select {
					case batches <- batch:
					case <-gctx.Done():
						return gctx.Err()
					}
					batch = nil
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if len(batch) > 0 {
				select {
				case batches <- batch:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	read := make(chan error, 1)
	go func() {
		read <- g.Wait()
		close(batches)
	}()
	var err error
	for batch := range batches {
		if err == nil {
			if err = each(batch); err != nil {
				cancel() // the readers end; the loop drains what they sent
			}
		}
	}
	if werr := <-read; err == nil {
		err = werr
	}
	return err
}
