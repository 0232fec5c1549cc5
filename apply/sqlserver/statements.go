package sqlserver

// How rows are written. The choices follow Microsoft's documentation;
// none has been measured or run against a server yet (bench_test.go is
// ready for one).
//
// Upserts are an UPDATE of the rows whose key exists, then an INSERT of
// the others, in one batch (one round trip), both reading the target
// WITH (UPDLOCK, SERIALIZABLE), not MERGE:
//
//   - MERGE is not atomic against other writers without HOLDLOCK: two
//     sessions can both find no row and both insert, one failing with
//     error 2627 (MERGE, "Concurrency considerations";
//     https://learn.microsoft.com/en-us/sql/t-sql/statements/merge-transact-sql),
//     and it fails a whole statement with error 8672 when two source
//     rows meet one target row. Microsoft's own upsert guidance
//     (https://github.com/microsoft/microsoft-sql, skill
//     t-sql-upserts-merge) measures a bare MERGE, and an UPDATE then
//     INSERT without hints, losing writes under concurrency, and refuses
//     several MERGE shapes outright.
//   - UPDATE ... FROM a VALUES derived table, then INSERT ... SELECT ...
//     WHERE NOT EXISTS, the NOT EXISTS reading under UPDLOCK and
//     SERIALIZABLE (a key-range lock held to the end of the transaction:
//     https://learn.microsoft.com/en-us/sql/t-sql/queries/hints-transact-sql-table),
//     is the pattern that guidance gives for upserts that hold under
//     concurrency, and each statement is a plain one. The UPDATE touches
//     only rows of the key, so a row that meets another row on a unique
//     index other than the key fails (2627 or 2601) instead of
//     overwriting it, unlike MySQL's ON DUPLICATE KEY.
//
// Both statements read the parameters once sent: T-SQL parameters may be
// referenced more than once in a batch. A group never holds one key twice
// (newGroup): UPDATE ... FROM with two source rows for one target row
// updates it with either ("undefined",
// https://learn.microsoft.com/en-us/sql/t-sql/queries/update-transact-sql),
// and the INSERT would insert both.
//
// Batches: a request holds at most 2,100 parameters
// (https://learn.microsoft.com/en-us/sql/sql-server/maximum-capacity-specifications-for-sql-server);
// go-mssqldb sends parameterized statements through sp_executesql, whose
// statement text and parameter declaration take two of them, so a group
// holds at most maxParams values. A VALUES list inserted directly holds at
// most 1,000 rows
// (https://learn.microsoft.com/en-us/sql/t-sql/queries/table-value-constructor-transact-sql);
// maxGroupRows keeps every statement within that too. Table-valued
// parameters would lift the parameter limit but need a table type created
// at the target per table shape; bulk copy into a temporary table needs a
// second connection protocol path and cannot be checked here. Both are
// candidates once a server is there to measure them: bench_upsert_test.go
// (BenchmarkUpsertStrategies) sets this upsert against MERGE WITH
// (HOLDLOCK) and against bulk copy into a temporary table then
// UPDATE+INSERT, on a real server only; it has never run.
//
// Identity keys: a statement that writes explicit values into an
// IDENTITY column runs between SET IDENTITY_INSERT t ON and OFF, in its
// batch (https://learn.microsoft.com/en-us/sql/t-sql/statements/set-identity-insert-transact-sql:
// one table per session at a time). An identity column can never be
// updated (error 8102): a key change of a table whose key is an identity
// is rejected.
//
// Values are NVARCHAR parameters where they are text (convert): a key
// column you create as VARCHAR is converted to NVARCHAR to be compared,
// which may turn index seeks into scans; the columns syncd creates are
// NVARCHAR.
//
// Origin marks: every row change the target writes carries, in change
// tracking, the worker's origin (Config.Origin, capture.SyncdOrigin) as
// its context: each INSERT, UPDATE and DELETE is prefixed with WITH
// CHANGE_TRACKING_CONTEXT (0x…), the origin's bytes
// (capture/sqlserver.ContextClause). capture/sqlserver reads it back from
// CHANGETABLE's SYS_CHANGE_CONTEXT and marks the version's transaction
// with it (Txn.Origin), so that the change does not return to the
// database it came from, as PostgreSQL's replication origins and
// apply/mysql's scope_info-first mark do for the other engines.
//
// The scope_info row is not tagged: it is syncd's bookkeeping, its table
// is no scope's, and its write's IF … INSERT form takes no WITH prefix.
//
// Truncate is DELETE FROM, not TRUNCATE TABLE: TRUNCATE needs the ALTER
// permission and fails on a table that a foreign key references
// (https://learn.microsoft.com/en-us/sql/t-sql/statements/truncate-table-transact-sql),
// which DELETE does not. DELETE fires triggers and is logged row by row.

import (
	"fmt"
	"strings"

	"github.com/syncd-dev/syncd/apply/plan"
)

// Aliases of the target table and of the rows of a statement.
const (
	targetAlias = "T"
	sourceAlias = "S"
)

// lockHints make an upsert's reads of the target hold key-range locks to
// the end of the transaction (see the notes above).
const lockHints = "WITH (UPDLOCK, SERIALIZABLE)"

// statement returns the text of the statement of kind o over the columns
// at cols for n rows. Parameters are @p1… in the order of the rows'
// values, row after row; for MoveKey the old key's values follow.
//
//	upsert     UPDATE T SET T.c = S.c … FROM t AS T WITH (…) JOIN (VALUES (@p1, …), …) AS S (c…) ON T.k = S.k …;
//	           INSERT INTO t (c…) SELECT S.c… FROM (VALUES …) AS S (c…) WHERE NOT EXISTS (SELECT 1 FROM t AS T WITH (…) WHERE T.k = S.k …)
//	insert     INSERT INTO t (c…) VALUES (@p1, …), …
//	delete     DELETE T FROM t AS T JOIN (VALUES (@p1, …), …) AS S (k…) ON T.k = S.k …
//	deleteRow  DELETE TOP (1) FROM t WHERE EXISTS (SELECT c… INTERSECT SELECT @p1, …)
//	update     UPDATE t SET c = @pi … WHERE k = @pj … (the key's own parameters)
//	moveKey    UPDATE t SET c = @p1 … WHERE k = @pn+1 …
//	truncate   DELETE FROM t
//
// Statements that write explicit values to an identity column are
// wrapped in SET IDENTITY_INSERT t ON and OFF. Each INSERT, UPDATE and
// DELETE starts with tb.tag, the target's WITH CHANGE_TRACKING_CONTEXT
// clause (origin.go); the statement before it in a batch ends in ";", as
// a WITH clause requires.
func (tb *table) statement(o plan.Op, cols []int, n int) string {
	var s string
	switch o {
	case plan.Upsert:
		s = tb.upsertSQL(cols, n)
	case plan.Insert:
		s = tb.tag + fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", tb.ident, tb.names(cols, ""), values(n, len(cols)))
	case plan.Delete:
		s = tb.tag + fmt.Sprintf("DELETE %s FROM %s AS %s JOIN (VALUES %s) AS %s (%s) ON %s",
			targetAlias, tb.ident, targetAlias, values(n, len(cols)), sourceAlias, tb.names(cols, ""), tb.keyJoin())
	case plan.DeleteRow:
		s = tb.tag + fmt.Sprintf("DELETE TOP (1) FROM %s WHERE EXISTS (SELECT %s INTERSECT SELECT %s)",
			tb.ident, tb.names(cols, ""), params(1, len(cols)))
	case plan.Update, plan.Reland:
		s = tb.tag + tb.updateSQL(cols)
	case plan.MoveKey:
		s = tb.tag + tb.moveKeySQL(cols)
	case plan.Truncate:
		s = tb.tag + "DELETE FROM " + tb.ident
	default:
		panic(fmt.Sprintf("unknown statement kind %c", o))
	}
	if (o == plan.Upsert || o == plan.Insert) && tb.writesIdentity(cols) {
		s = fmt.Sprintf("SET IDENTITY_INSERT %s ON;\n%s;\nSET IDENTITY_INSERT %s OFF", tb.ident, s, tb.ident)
	}
	return s
}

// upsertSQL: the UPDATE of the rows whose key exists, then the INSERT of
// the others (see the notes above). Without columns outside the key
// there is nothing to update.
func (tb *table) upsertSQL(cols []int, n int) string {
	vals := values(n, len(cols))
	names := tb.names(cols, "")
	var b strings.Builder
	set := 0
	for _, c := range cols {
		if tb.IsKey(c) {
			continue
		}
		if set == 0 {
			b.WriteString(tb.tag + "UPDATE " + targetAlias + " SET ")
		} else {
			b.WriteString(", ")
		}
		set++
		id := tb.cols[c].ident
		fmt.Fprintf(&b, "%s.%s = %s.%s", targetAlias, id, sourceAlias, id)
	}
	if set > 0 {
		fmt.Fprintf(&b, " FROM %s AS %s %s JOIN (VALUES %s) AS %s (%s) ON %s;\n",
			tb.ident, targetAlias, lockHints, vals, sourceAlias, names, tb.keyJoin())
	}
	b.WriteString(tb.tag)
	fmt.Fprintf(&b, "INSERT INTO %s (%s) SELECT %s FROM (VALUES %s) AS %s (%s) WHERE NOT EXISTS (SELECT 1 FROM %s AS %s %s WHERE %s)",
		tb.ident, names, tb.names(cols, sourceAlias+"."), vals, sourceAlias, names, tb.ident, targetAlias, lockHints, tb.keyJoin())
	return b.String()
}

// updateSQL writes the columns of cols outside the key to the row of the
// key, whose values are among cols' parameters. Without such columns it
// assigns the first key column itself, to count the row.
func (tb *table) updateSQL(cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "UPDATE %s SET ", tb.ident)
	set := 0
	for i, c := range cols {
		if tb.IsKey(c) {
			continue
		}
		if set > 0 {
			b.WriteString(", ")
		}
		set++
		fmt.Fprintf(&b, "%s = @p%d", tb.cols[c].ident, i+1)
	}
	if set == 0 {
		id := tb.cols[tb.Key[0]].ident
		b.WriteString(id + " = " + id)
	}
	b.WriteString(" WHERE ")
	for i, k := range tb.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		p := 0
		for j, c := range cols {
			if c == k {
				p = j + 1
			}
		}
		fmt.Fprintf(&b, "%s = @p%d", tb.cols[k].ident, p)
	}
	return b.String()
}

// moveKeySQL writes cols, the new key among them, to the row whose key is
// the parameters after those of cols. An UPDATE keeps the columns the
// change does not carry, which a delete and an insert would lose. The
// upsert of the new row that follows it inserts the row if there was
// none to move.
func (tb *table) moveKeySQL(cols []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "UPDATE %s SET ", tb.ident)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = @p%d", tb.cols[c].ident, i+1)
	}
	b.WriteString(" WHERE ")
	for i, k := range tb.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		fmt.Fprintf(&b, "%s = @p%d", tb.cols[k].ident, len(cols)+i+1)
	}
	return b.String()
}

// keyJoin matches the target's rows to the statement's by key:
// "T.[k] = S.[k] AND …".
func (tb *table) keyJoin() string {
	var b strings.Builder
	for i, k := range tb.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		id := tb.cols[k].ident
		fmt.Fprintf(&b, "%s.%s = %s.%s", targetAlias, id, sourceAlias, id)
	}
	return b.String()
}

// params returns "@pfirst, …" for n parameters.
func params(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "@p%d", first+i)
	}
	return b.String()
}

// values returns "(@p1, @p2), (@p3, @p4)" for rows rows of cols values.
func values(rows, cols int) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + params(r*cols+1, cols) + ")")
	}
	return b.String()
}
