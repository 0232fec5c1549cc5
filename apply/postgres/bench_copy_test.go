package postgres

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/applytest"
)

// applyCopy is the alternative to Target's statements that the
// benchmarks measure: per transaction, rows go by COPY (text format) into
// a temporary staging table shaped like the target, then one INSERT ...
// SELECT ... ON CONFLICT DO UPDATE moves them. A key seen twice starts a
// new COPY, as it starts a new group in Target. It converts values with
// the same converter, handles upserts of whole rows only, and writes the
// checkpoint row like Target.
func applyCopy(ctx context.Context, e *env, changes []*apply.Change) error {
	conn, err := e.tg.connect(ctx)
	if err != nil {
		return err
	}
	tb := e.tg.tables[accounts.Target]
	cols := make([]int, len(tb.cols))
	for i := range cols {
		cols[i] = i
	}
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS syncd_stage AS SELECT `+tb.names(cols, "")+
		` FROM `+tb.ident+` WITH NO DATA`); err != nil {
		return err
	}
	var onConflict bytes.Buffer
	for _, c := range cols[1:] {
		if onConflict.Len() > 0 {
			onConflict.WriteString(", ")
		}
		onConflict.WriteString(tb.cols[c].ident + " = excluded." + tb.cols[c].ident)
	}
	merge := fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM syncd_stage ON CONFLICT (%s) DO UPDATE SET %s`,
		tb.ident, tb.names(cols, ""), tb.names(cols, ""), tb.names(tb.Key, ""), onConflict.String())
	copySQL := `COPY syncd_stage (` + tb.names(cols, "") + `) FROM STDIN`

	var cv converter
	var data, val []byte
	seen := map[string]bool{}
	flush := func() error {
		if len(data) == 0 {
			return nil
		}
		if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(data), copySQL); err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(merge)
		b.Queue(`TRUNCATE syncd_stage`)
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		data = data[:0]
		clear(seen)
		return nil
	}
	for start := 0; start < len(changes); start += benchTxRows {
		if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
			return err
		}
		for _, c := range changes[start:min(start+benchTxRows, len(changes))] {
			k := string(c.Key["aid"])
			if seen[k] {
				if err := flush(); err != nil {
					return err
				}
			}
			seen[k] = true
			for i, col := range tb.cols {
				if i > 0 {
					data = append(data, '\t')
				}
				var null bool
				val, null, err = cv.appendValue(val[:0], col.kind, col.elem, col.delim, c.After[col.name])
				if err != nil {
					return err
				}
				if null {
					data = append(data, `\N`...)
				} else {
					data = appendCopyText(data, val)
				}
			}
			data = append(data, '\n')
		}
		if err := flush(); err != nil {
			return err
		}
		q := e.tg.writeCheckpoint(applytest.Record(1))
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
			return err
		}
	}
	return nil
}
