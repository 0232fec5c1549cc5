package sqlserver

// The two-way probe (apply.Prober, apply.BatchProber): so that a SQL
// Server target can take part in a two-way scope, it reads the target's
// row of a change's key and compares it with the change's old and new
// rows, as apply/mysql's and apply/postgres's probes do. newer_wins is
// refused for SQL Server by syncd validate (it keeps no commit time per
// row), so Newer compares only the newest_column policy's column.
//
// Microsoft's documentation each piece relies on (checked against the
// pages, not against a server: layer 4, TestRealServerProbeAll, has
// never run):
//   - table hints UPDLOCK and HOLDLOCK/SERIALIZABLE: update locks held to
//     the end of the transaction, and a key-range lock for a key that is
//     not there, so no other writer can insert it before syncd applies
//     the change
//     (https://learn.microsoft.com/en-us/sql/t-sql/queries/hints-transact-sql-table);
//   - FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES, in a
//     correlated subquery without FROM, for the row as one JSON object
//     (https://learn.microsoft.com/en-us/sql/relational-databases/json/format-query-results-as-json-with-for-json-sql-server);
//     CLR types (geometry, geography, hierarchyid) "return an error" in
//     FOR JSON, so they are read with ToString()
//     (https://learn.microsoft.com/en-us/sql/relational-databases/json/how-for-json-converts-sql-server-data-types-to-json-data-types-sql-server);
//   - = is not NULL-safe (ANSI_NULLS ON, the driver's default), and IS
//     [NOT] DISTINCT FROM, which is, needs SQL Server 2022
//     (https://learn.microsoft.com/en-us/sql/t-sql/queries/is-distinct-from-transact-sql):
//     the change's values are known when the query is built, so a NULL
//     is compared as "t.[c] IS NULL" and any other value as
//     "t.[c] = @pN", which a NULL in the row fails, as it should;
//   - text, ntext and image cannot be compared with = and xml not at all,
//     so they are compared CAST to nvarchar(max) or varbinary(max)
//     (https://learn.microsoft.com/en-us/sql/t-sql/language-elements/comparison-operators-transact-sql,
//     https://learn.microsoft.com/en-us/sql/t-sql/xml/xml-transact-sql);
//     geometry and geography have no = (STEquals tests spatial equality,
//     not equal values), so a probe comparing them is refused;
//   - a request holds at most 2,100 parameters
//     (https://learn.microsoft.com/en-us/sql/sql-server/maximum-capacity-specifications-for-sql-server),
//     so ProbeAll splits its UNION ALL there.
//
// Strings compare under the column's collation, as the server compares
// keys: a case-insensitive column finds "A" equal to "a", as apply/mysql
// does.

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/apply/plan"
)

// maxProbeArgs bounds the parameters of one ProbeAll query: a request's
// 2,100 less the two of sp_executesql (maxParams).
const maxProbeArgs = maxParams

// probeQuery returns the probe query of c (sqltx.Config.ProbeSQL), read
// by sqltx.Tx's Probe and ProbeAll under an update lock held to the end
// of the transaction: probeSQLAt on c's target table.
func (t *Target) probeQuery(c *apply.Change, column string, index, before int) (string, []any, error) {
	tb, _, ok := t.tables.Table(c.Table.Target)
	if !ok {
		return "", nil, fmt.Errorf("table %s was not prepared at target %s", c.Table.Target, t.cfg.Name)
	}
	return probeSQLAt(tb, c, column, index, before)
}

// probeSQL returns the probe query of c and its arguments, numbered from
// @p1. With index >= 0 the query's first column is index.
func probeSQL(tb *table, c *apply.Change, column string, index int) (string, []any, error) {
	return probeSQLAt(tb, c, column, index, 0)
}

// probeSQLAt is probeSQL with its parameters numbered after the first
// skip (@p<skip+1> on). The query is
//
//	SELECT [index,] (SELECT t.[a] AS [a], … FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES),
//	  CAST(CASE WHEN <old row equal> THEN 1 ELSE 0 END AS bit),
//	  CAST(CASE WHEN <new row equal> THEN 1 ELSE 0 END AS bit),
//	  <policy column comparison>
//	FROM <table> AS t WITH (UPDLOCK, SERIALIZABLE) WHERE t.[k] = @pN AND …
//
// each value a parameter (the key's last), each used once, the
// comparisons plan.SQLServerProbe's.
func probeSQLAt(tb *table, c *apply.Change, column string, index, skip int) (string, []any, error) {
	p, err := plan.SQLServerProbe.Probe(tb, c, column, skip)
	if err != nil {
		return "", nil, err
	}
	obj := make([]string, len(tb.cols))
	for i := range tb.cols {
		obj[i] = jsonValue(&tb.cols[i]) + " AS " + tb.cols[i].ident
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	if index >= 0 {
		fmt.Fprintf(&b, "%d, ", index)
	}
	fmt.Fprintf(&b, "(SELECT %s FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES), ", strings.Join(obj, ", "))
	fmt.Fprintf(&b, "CAST(CASE WHEN %s THEN 1 ELSE 0 END AS bit), CAST(CASE WHEN %s THEN 1 ELSE 0 END AS bit), %s", p.Base, p.New, p.Newer)
	fmt.Fprintf(&b, " FROM %s AS t WITH (UPDLOCK, SERIALIZABLE) WHERE %s", tb.ident, p.Key)
	return b.String(), p.Args, nil
}

// ProbeValue implements plan.ProbeTable.
func (tb *table) ProbeValue(i int, raw json.RawMessage) (any, error) {
	return convert(&tb.cols[i], raw)
}

// ProbeOperands implements plan.ProbeTable: the column as comparable
// returns it, and p.
func (tb *table) ProbeOperands(i int, p string, _ bool) (string, string, error) {
	col, err := comparable(&tb.cols[i])
	return col, p, err
}

// comparable returns column c of the probed row (t) as = can compare it
// with a parameter: text, ntext and xml as nvarchar(max), image as
// varbinary(max); an error for the spatial types, which have no =.
func comparable(c *column) (string, error) {
	col := "t." + c.ident
	switch c.dataType {
	case "text", "ntext", "xml":
		return "CAST(" + col + " AS nvarchar(max))", nil
	case "image":
		return "CAST(" + col + " AS varbinary(max))", nil
	case "geometry", "geography":
		return "", fmt.Errorf("column %s: a %s value cannot be compared, which a two-way scope's conflict detection needs", c.name, c.dataType)
	}
	return col, nil
}

// jsonValue returns column c of the probed row as FOR JSON can render
// it: CLR types through ToString().
func jsonValue(c *column) string {
	switch c.dataType {
	case "geometry", "geography", "hierarchyid":
		return "t." + c.ident + ".ToString()"
	}
	return "t." + c.ident
}
