package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/syncd-dev/syncd/capture"
)

// truncated reports the table a TRUNCATE [TABLE] statement empties.
func truncated(q, schema string) (capture.TableID, bool) {
	rest, ok := cutWord(q, "TRUNCATE")
	if !ok {
		return capture.TableID{}, false
	}
	if r, ok := cutWord(rest, "TABLE"); ok {
		rest = r
	}
	parts := splitName(strings.TrimSpace(rest))
	switch len(parts) {
	case 1:
		return capture.TableID{Schema: schema, Name: parts[0]}, true
	case 2:
		return capture.TableID{Schema: parts[0], Name: parts[1]}, true
	}
	return capture.TableID{}, false
}

func firstWord(q string) string {
	if i := strings.IndexAny(q, " \t\r\n;"); i >= 0 {
		return q[:i]
	}
	return q
}

func cutWord(q, word string) (string, bool) {
	q = strings.TrimSpace(q)
	if len(q) > len(word) && strings.EqualFold(q[:len(word)], word) && strings.ContainsRune(" \t\r\n`", rune(q[len(word)])) {
		return strings.TrimSpace(q[len(word):]), true
	}
	return q, false
}

// splitName splits `db`.`t`, db.t or t into its parts, up to the first
// unquoted space or semicolon.
func splitName(s string) []string {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '`' && quoted && i+1 < len(s) && s[i+1] == '`':
			cur.WriteByte('`')
			i++
		case c == '`':
			quoted = !quoted
		case !quoted && c == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		case !quoted && strings.IndexByte(" \t\r\n;", c) >= 0:
			return append(parts, cur.String())
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String())
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// slogOf sends go-mysql's logs, warnings and up, to an hclog logger.
func slogOf(l hclog.Logger) *slog.Logger {
	w := l.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// loadCharsets reads the server's collations and their character sets.
func loadCharsets(ctx context.Context, db *sql.DB) (charsets, error) {
	rows, err := db.QueryContext(ctx, `SELECT c.ID, c.CHARACTER_SET_NAME, s.MAXLEN FROM information_schema.COLLATIONS c JOIN information_schema.CHARACTER_SETS s ON s.CHARACTER_SET_NAME = c.CHARACTER_SET_NAME WHERE c.ID IS NOT NULL`)
	if err != nil {
		return charsets{}, fmt.Errorf("read collations: %w", err)
	}
	defer rows.Close()
	cs := charsets{byCollation: map[uint64]charsetInfo{}}
	for rows.Next() {
		var id uint64
		var ci charsetInfo
		if err := rows.Scan(&id, &ci.name, &ci.maxLen); err != nil {
			return charsets{}, fmt.Errorf("read collations: %w", err)
		}
		cs.byCollation[id] = ci
	}
	if err := rows.Err(); err != nil {
		return charsets{}, fmt.Errorf("read collations: %w", err)
	}
	return cs, nil
}
