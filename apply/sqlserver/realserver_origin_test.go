package sqlserver

// Layer 4 (real server, gated on SYNCD_TEST_MSSQL_DSN, NEVER run): the
// origin mark. Reviewed against Microsoft's documentation:
//   - ALTER DATABASE … SET CHANGE_TRACKING = ON and ALTER TABLE … ENABLE
//     CHANGE_TRACKING (the table has a primary key):
//     https://learn.microsoft.com/sql/relational-databases/track-changes/enable-and-disable-change-tracking-sql-server
//   - WITH CHANGE_TRACKING_CONTEXT ( context ), context varbinary(128),
//     "a constant or a variable, but cannot be NULL", before INSERT,
//     UPDATE and DELETE (the statements testdata/tagged*.sql pins):
//     https://learn.microsoft.com/sql/relational-databases/system-functions/with-change-tracking-context-transact-sql
//   - CHANGETABLE(CHANGES t, @since) returns each row changed after
//     @since with its key, SYS_CHANGE_OPERATION and SYS_CHANGE_CONTEXT
//     (the context of the row's last change); last_sync_version must be
//     a value or variable, not an expression, so the minimum valid
//     version (the table's enabling) goes through a variable:
//     https://learn.microsoft.com/sql/relational-databases/system-functions/changetable-transact-sql
// What the real run decides: that the server accepts the clause where
// the statements put it (after SET IDENTITY_INSERT …; and between the
// UPDATE and the INSERT of an upsert) and stores it for every row.

import (
	"fmt"
	"slices"
	"testing"

	"github.com/syncd-dev/syncd/apply/applytest"
	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestRealServerOriginTagged: rows upserted, updated and deleted by a
// target with an origin carry that origin as their change tracking
// context; a row written by another session carries none.
func TestRealServerOriginTagged(t *testing.T) {
	testenv.RequireMSSQL(t)
	origin := capture.SyncdOrigin("app", "s", "replica")
	e := newRealEnv(t, func(c *Config) { c.Origin = origin })
	tg := e.Target
	e.Exec("ALTER DATABASE CURRENT SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 1 DAYS, AUTO_CLEANUP = ON)",
		"CREATE TABLE items (id integer PRIMARY KEY, name nvarchar(max), note nvarchar(max), qty integer)",
		"ALTER TABLE items ENABLE CHANGE_TRACKING",
		"INSERT INTO items (id, name, note, qty) VALUES (1, 'one', NULL, 1), (2, 'two', NULL, 2), (9, 'other', NULL, 9)")
	ctx := applytest.Context(t)
	if err := tg.Prepare(ctx, "s", []*router.TableSchema{items}); err != nil {
		t.Fatal(err)
	}
	err := applytest.Run(ctx, tg, false, applytest.Record(1),
		applytest.Change(items, capture.OpInsert, applytest.Key(3), "", `{"id":3,"name":"three","note":null,"qty":3}`),
		applytest.Change(items, capture.OpUpdate, applytest.Key(1), "", `{"id":1,"name":"uno","note":null,"qty":1}`),
		applytest.Change(items, capture.OpDelete, applytest.Key(2), `{"id":2}`, ""))
	if err != nil {
		t.Fatal(err)
	}
	got := e.Rows(`DECLARE @since bigint = CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('items'));
SELECT CONCAT(id, ':', SYS_CHANGE_OPERATION, ':', CAST(SYS_CHANGE_CONTEXT AS varchar(128))) FROM CHANGETABLE(CHANGES items, @since) AS c ORDER BY id`)
	want := []string{fmt.Sprintf("1:U:%s", origin), fmt.Sprintf("2:D:%s", origin), fmt.Sprintf("3:I:%s", origin), "9:I:"}
	if !slices.Equal(got, want) {
		t.Fatalf("CHANGETABLE rows %q, want %q", got, want)
	}
}
