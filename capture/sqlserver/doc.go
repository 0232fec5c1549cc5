// Package sqlserver captures changes from SQL Server through change
// tracking: each poll reads, in one SNAPSHOT isolation transaction, the
// database's current change tracking version, checks every table's
// minimum valid version against the saved one, and reads the net changes
// since it with CHANGETABLE(CHANGES ...), joined to the base tables for
// the current values, in version order.
//
// Change tracking has no transaction boundaries: it reports net changes,
// each with the version of its row's last change. A version is therefore
// the unit of order and of the checkpoint: the changes of one version form
// one capture.Txn (a pseudo-transaction), its Pos and Ack the version.
// The state saved in a capture.Store is the version through which every
// change is durable downstream (checkpoint.go); version 0 is a valid
// checkpoint, not "none".
//
// The daemon runs a Server (server.go): each capture session connects,
// runs the start-up checks and polls with a Source over the connection.
//
// Status: this package is verified against golden T-SQL, against a
// model of change tracking (model_test.go) and, for Conn, against a TDS
// wire fake (tds_test.go, test/tdsfake), not against a real SQL Server. live_test.go runs against a real server when
// SYNCD_TEST_MSSQL_DSN is set (make test-sqlserver).
//
// Microsoft's documentation of the functions used:
//   - CHANGETABLE: https://learn.microsoft.com/sql/relational-databases/system-functions/changetable-transact-sql
//   - CHANGE_TRACKING_CURRENT_VERSION: https://learn.microsoft.com/sql/relational-databases/system-functions/change-tracking-current-version-transact-sql
//   - CHANGE_TRACKING_MIN_VALID_VERSION: https://learn.microsoft.com/sql/relational-databases/system-functions/change-tracking-min-valid-version-transact-sql
//   - CHANGE_TRACKING_IS_COLUMN_IN_MASK: https://learn.microsoft.com/sql/relational-databases/system-functions/change-tracking-is-column-in-mask-transact-sql
//   - WITH CHANGE_TRACKING_CONTEXT: https://learn.microsoft.com/sql/relational-databases/system-functions/with-change-tracking-context-transact-sql
//   - snapshot isolation for consistent results ("Obtaining consistent and
//     correct results"): https://learn.microsoft.com/sql/relational-databases/track-changes/work-with-change-tracking-sql-server
package sqlserver
