package testenv

import (
	"database/sql"
	"strings"
)

// OpenDB opens a database/sql pool, closed when the test ends.
func OpenDB(t TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Rows runs query and returns its rows, each as its columns' text joined
// by "|", NULL as "∅": a form to compare a table with what a test wants.
// The text is what database/sql's conversion to a string makes of the
// driver's value.
func Rows(db *sql.DB, query string, args ...any) ([]string, error) {
	return RowsWith(db, func(_ *sql.ColumnType, v any) (string, error) {
		var s sql.NullString
		if err := s.Scan(v); err != nil {
			return "", err
		}
		if !s.Valid {
			return "∅", nil
		}
		return s.String, nil
	}, query, args...)
}

// RowsWith runs query and returns its rows, each as its columns' text
// joined by "|": text writes each value as the driver returns it, given
// its column's type.
func RowsWith(db *sql.DB, text func(*sql.ColumnType, any) (string, error), query string, args ...any) ([]string, error) {
	rows, err := db.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	var out []string
	vals := make([]any, len(types))
	dest := make([]any, len(types))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if parts[i], err = text(types[i], v); err != nil {
				return nil, err
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out, rows.Err()
}
