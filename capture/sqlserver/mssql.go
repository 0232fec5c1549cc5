package sqlserver

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// Conn is a Tracker over a go-mssqldb connection pool.
type Conn struct {
	db *sql.DB
}

var _ Tracker = (*Conn)(nil)

// Connect opens a pool on dsn (go-mssqldb's URL or key=value form, e.g.
// sqlserver://user:pass@host:1433?database=shop). It opens no connection
// until used.
func Connect(dsn string) (*Conn, error) {
	c, err := mssql.NewConnector(dsn)
	if err != nil {
		return nil, retry.Terminal(fmt.Errorf("parse dsn: %w", err))
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(2)
	return &Conn{db: db}, nil
}

// Close closes the pool.
func (c *Conn) Close() error { return c.db.Close() }

// Tables runs the start-up checks for specs (change tracking on for the
// database and each table, ALLOW_SNAPSHOT_ISOLATION ON, SELECT and VIEW
// CHANGE TRACKING on each table, a primary key on each, the columns the
// scopes use, and each spec's Check, which type-checks the scopes'
// mappings against the catalog's column types) and returns the tables as the catalog describes them. Every
// problem is reported at once, in one error marked retry.Terminal.
func (c *Conn) Tables(ctx context.Context, specs []capture.TableSpec) ([]*Table, error) {
	db, err := c.databaseFacts(ctx)
	if err != nil {
		return nil, err
	}
	facts := make([]tableFacts, len(specs))
	for i, spec := range specs {
		f := &facts[i]
		f.Spec = spec
		name := quoteTable(spec.ID)
		if err := c.db.QueryRowContext(ctx, tableFactsSQL, name).Scan(&f.Exists, &f.Tracked, &f.CanSelect, &f.CanViewCT); err != nil {
			return nil, fmt.Errorf("read settings of %s: %w", spec.ID, err)
		}
		if f.Columns, err = c.columns(ctx, name); err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", spec.ID, err)
		}
	}
	if err := checkProblems(db, facts); err != nil {
		return nil, retry.Terminal(err)
	}
	tables := make([]*Table, len(facts))
	for i, f := range facts {
		tables[i] = tableOf(f)
	}
	return tables, nil
}

// Retention reads the database's CHANGE_RETENTION, for Config.Retention;
// 0 when change tracking is off or the unit is unknown.
func (c *Conn) Retention(ctx context.Context) (time.Duration, error) {
	db, err := c.databaseFacts(ctx)
	if err != nil {
		return 0, err
	}
	return retentionOf(db.RetentionPeriod, db.RetentionUnits), nil
}

func (c *Conn) databaseFacts(ctx context.Context) (databaseFacts, error) {
	var db databaseFacts
	err := c.db.QueryRowContext(ctx, databaseFactsSQL).Scan(&db.Name, &db.User, &db.Tracking, &db.RetentionPeriod, &db.RetentionUnits, &db.SnapshotIsolation)
	if err != nil {
		return db, fmt.Errorf("read database settings: %w", err)
	}
	return db, nil
}

func (c *Conn) columns(ctx context.Context, name string) ([]columnFacts, error) {
	rows, err := c.db.QueryContext(ctx, columnsSQL, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []columnFacts
	for rows.Next() {
		var f columnFacts
		if err := rows.Scan(&f.Name, &f.ID, &f.Type, &f.MaxLength, &f.Precision, &f.Scale, &f.KeyOrdinal); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Begin implements Tracker: a transaction at SNAPSHOT isolation, which
// Microsoft recommends for reading change tracking consistently
// (https://learn.microsoft.com/sql/relational-databases/track-changes/work-with-change-tracking-sql-server).
// go-mssqldb refuses read-only transactions, so it is a read-write one
// that only reads and is rolled back.
func (c *Conn) Begin(ctx context.Context) (Poll, error) {
	tx, err := c.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSnapshot})
	if err != nil {
		return nil, fmt.Errorf("begin snapshot transaction: %w", err)
	}
	return &connPoll{tx: tx}, nil
}

type connPoll struct{ tx *sql.Tx }

func (p *connPoll) CurrentVersion(ctx context.Context) (int64, bool, error) {
	var v sql.NullInt64
	if err := p.tx.QueryRowContext(ctx, currentVersionSQL).Scan(&v); err != nil {
		return 0, false, err
	}
	return v.Int64, v.Valid, nil
}

func (p *connPoll) MinValidVersion(ctx context.Context, t *Table) (int64, bool, error) {
	var v sql.NullInt64
	if err := p.tx.QueryRowContext(ctx, minValidVersionSQL, quoteTable(t.ID())).Scan(&v); err != nil {
		return 0, false, err
	}
	return v.Int64, v.Valid, nil
}

func (p *connPoll) Changes(ctx context.Context, t *Table, since, upTo int64, fn func(ChangeRow) error) error {
	rows, err := p.tx.QueryContext(ctx, changesSQL(t), since, upTo)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := len(t.Columns)
	var (
		op       string
		nullMask bool
		present  bool
		inMask   = make([]bool, n)
		key      = make([]any, len(t.Key))
		vals     = make([]any, n)
	)
	for rows.Next() {
		var r ChangeRow
		dest := []any{&r.Version, &op, &r.Context, &nullMask}
		for i := range inMask {
			dest = append(dest, &inMask[i])
		}
		for i := range key {
			dest = append(dest, &key[i])
		}
		dest = append(dest, &present)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if len(op) != 1 {
			return fmt.Errorf("SYS_CHANGE_OPERATION %q", op)
		}
		r.Op = op[0]
		if !nullMask {
			r.Changed = append([]bool(nil), inMask...)
		}
		r.Key = make(capture.Row, len(key))
		for i, k := range t.Key {
			if r.Key[i], err = convert(t.Columns[k].Type, key[i]); err != nil {
				return err
			}
		}
		if present {
			if r.Row, err = convertRow(t, vals); err != nil {
				return err
			}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (p *connPoll) Chunk(ctx context.Context, t *Table, after capture.Row, limit int, where string, args []any) ([]capture.Row, error) {
	q := chunkSQL(t, after != nil, where, len(args))
	args = append(append(args[:len(args):len(args)], limit), after...)
	rows, err := p.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vals := make([]any, len(t.Columns))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	var out []capture.Row
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		row, err := convertRow(t, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func (p *connPoll) Close() error { return p.tx.Rollback() }

func convertRow(t *Table, vals []any) (capture.Row, error) {
	row := make(capture.Row, len(vals))
	for i, v := range vals {
		var err error
		if row[i], err = convert(t.Columns[i].Type, v); err != nil {
			return nil, fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
		}
	}
	return row, nil
}
