package sqlserver

import (
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/capture"
)

// The T-SQL the source runs. Identifiers come from the catalog and the
// config and are always quoted with quoteIdent; values go as parameters
// (@p1, @p2, ... in argument order, go-mssqldb's positional names).

// currentVersionSQL reads the version of the last committed change
// tracked in the database; NULL when change tracking is off for it.
// https://learn.microsoft.com/sql/relational-databases/system-functions/change-tracking-current-version-transact-sql
const currentVersionSQL = `SELECT CHANGE_TRACKING_CURRENT_VERSION()`

// minValidVersionSQL reads the oldest version CHANGETABLE(CHANGES t, v)
// is valid from: it rises when the table gets change tracking, when the
// cleanup task removes changes older than the retention period, and when
// the table is truncated. NULL when tracking is off or the login lacks
// permission. @p1 is the quoted two-part table name.
// https://learn.microsoft.com/sql/relational-databases/system-functions/change-tracking-min-valid-version-transact-sql
const minValidVersionSQL = `SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(@p1))`

// quoteIdent quotes a T-SQL identifier: [name], with ] doubled.
func quoteIdent(s string) string { return "[" + strings.ReplaceAll(s, "]", "]]") + "]" }

// quoteTable quotes a two-part table name.
func quoteTable(id capture.TableID) string { return quoteIdent(id.Schema) + "." + quoteIdent(id.Name) }

// changesSQL reads the net changes of t after version @p1 and at or before
// @p2 (the poll's CHANGE_TRACKING_CURRENT_VERSION), in version order, each
// joined to t's current row. Columns, in order: SYS_CHANGE_VERSION,
// SYS_CHANGE_OPERATION, SYS_CHANGE_CONTEXT, whether SYS_CHANGE_COLUMNS is
// NULL, CHANGE_TRACKING_IS_COLUMN_IN_MASK for each column of t, the key
// values CHANGETABLE returns, whether the base row exists, and the base
// row's columns.
//
// CHANGETABLE(CHANGES t, v) returns one row per row of t changed after v,
// with the version and kind of its net change; SYS_CHANGE_COLUMNS lists
// the columns updated since v (NULL for inserts and deletes, or when
// column tracking is off).
// https://learn.microsoft.com/sql/relational-databases/system-functions/changetable-transact-sql
// https://learn.microsoft.com/sql/relational-databases/system-functions/change-tracking-is-column-in-mask-transact-sql
func changesSQL(t *Table) string {
	var b strings.Builder
	b.WriteString("SELECT ct.SYS_CHANGE_VERSION, ct.SYS_CHANGE_OPERATION, ct.SYS_CHANGE_CONTEXT,\n")
	b.WriteString("  CASE WHEN ct.SYS_CHANGE_COLUMNS IS NULL THEN 1 ELSE 0 END")
	for _, id := range t.ColumnIDs {
		// A NULL mask means every column may have changed; the CASE also
		// keeps NULL out of a column scanned as a bool.
		fmt.Fprintf(&b, ",\n  CASE WHEN ct.SYS_CHANGE_COLUMNS IS NULL THEN 1 ELSE CHANGE_TRACKING_IS_COLUMN_IN_MASK(%d, ct.SYS_CHANGE_COLUMNS) END", id)
	}
	for _, k := range t.Key {
		b.WriteString(",\n  ct." + quoteIdent(t.Columns[k].Name))
	}
	fmt.Fprintf(&b, ",\n  CASE WHEN t.%s IS NULL THEN 0 ELSE 1 END", quoteIdent(t.Columns[t.Key[0]].Name))
	for _, c := range t.Columns {
		b.WriteString(",\n  t." + quoteIdent(c.Name))
	}
	fmt.Fprintf(&b, "\nFROM CHANGETABLE(CHANGES %s, @p1) AS ct\nLEFT JOIN %s AS t ON ", quoteTable(t.ID()), quoteTable(t.ID()))
	for i, k := range t.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		q := quoteIdent(t.Columns[k].Name)
		b.WriteString("t." + q + " = ct." + q)
	}
	b.WriteString("\nWHERE ct.SYS_CHANGE_VERSION <= @p2\nORDER BY ct.SYS_CHANGE_VERSION")
	for _, k := range t.Key {
		b.WriteString(", ct." + quoteIdent(t.Columns[k].Name))
	}
	return b.String()
}

// chunkSQL reads one chunk of a snapshot of t: the first @p(n+1) rows in
// key order, after the key @p(n+2).. when after is set, that satisfy where,
// whose placeholders are @p1..@pn (n = nargs).
func chunkSQL(t *Table, after bool, where string, nargs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT TOP (@p%d) ", nargs+1)
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c.Name))
	}
	b.WriteString(" FROM " + quoteTable(t.ID()))
	var conds []string
	if after {
		conds = append(conds, keysetAfter(t, nargs+2))
	}
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	b.WriteString(" ORDER BY ")
	for i, k := range t.Key {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(t.Columns[k].Name))
	}
	return b.String()
}

// keysetAfter renders "key > (@pN, @pN+1, ...)" for a key of one or more
// columns: (k1 > a) OR (k1 = a AND k2 > b) OR ...
func keysetAfter(t *Table, first int) string {
	var ors []string
	for i := range t.Key {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, fmt.Sprintf("%s = @p%d", quoteIdent(t.Columns[t.Key[j]].Name), first+j))
		}
		ands = append(ands, fmt.Sprintf("%s > @p%d", quoteIdent(t.Columns[t.Key[i]].Name), first+i))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// databaseFactsSQL reads what the start-up checks need of the database:
// its name, the login's user name in it, whether change tracking is on for
// it, its retention period and unit, and its snapshot_isolation_state
// (1 = ALLOW_SNAPSHOT_ISOLATION ON).
const databaseFactsSQL = `SELECT DB_NAME(), USER_NAME(),
  CASE WHEN ctd.database_id IS NULL THEN 0 ELSE 1 END,
  COALESCE(ctd.retention_period, 0), COALESCE(ctd.retention_period_units_desc, N''),
  d.snapshot_isolation_state
FROM sys.databases AS d
LEFT JOIN sys.change_tracking_databases AS ctd ON ctd.database_id = d.database_id
WHERE d.database_id = DB_ID()`

// tableFactsSQL reads what the start-up checks need of table @p1 (the
// quoted two-part name): whether it exists, whether change tracking is on
// for it, and whether the login has SELECT and VIEW CHANGE TRACKING on it.
const tableFactsSQL = `SELECT CASE WHEN OBJECT_ID(@p1, 'U') IS NULL THEN 0 ELSE 1 END,
  CASE WHEN EXISTS (SELECT 1 FROM sys.change_tracking_tables WHERE object_id = OBJECT_ID(@p1, 'U')) THEN 1 ELSE 0 END,
  COALESCE(HAS_PERMS_BY_NAME(@p1, 'OBJECT', 'SELECT'), 0),
  COALESCE(HAS_PERMS_BY_NAME(@p1, 'OBJECT', 'VIEW CHANGE TRACKING'), 0)`

// columnsSQL lists table @p1's columns in column_id order: name,
// column_id, the name of the system type (an alias type's base type; a
// CLR type's own name, as all have system_type_id 240), max_length (bytes; -1 for max), precision, scale, and position in the
// primary key (0 when not in it).
// https://learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-columns-transact-sql
const columnsSQL = `SELECT c.name, c.column_id,
  TYPE_NAME(CASE WHEN c.system_type_id = 240 THEN c.user_type_id ELSE c.system_type_id END),
  c.max_length, c.precision, c.scale, COALESCE(ic.key_ordinal, 0)
FROM sys.columns AS c
LEFT JOIN sys.indexes AS i ON i.object_id = c.object_id AND i.is_primary_key = 1
LEFT JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.column_id = c.column_id
WHERE c.object_id = OBJECT_ID(@p1, 'U')
ORDER BY c.column_id`
