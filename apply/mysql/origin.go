package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/syncd-dev/syncd/apply"
	"github.com/syncd-dev/syncd/capture"
)

// mark makes the first row change of stx, a transaction just begun, the
// one that tells a capture of this database that syncd applied it: an
// upsert of the scope's scope_info row that sets last_txn_apply_ms to -1
// (the checkpoint written at commit sets it again, to 0 or more, so the
// next mark changes the row and the binlog logs it). capture/mysql
// recognises a transaction whose first row change is to a scope_info
// table and records its origin. Nothing without Config.Origin.
//
// The mark needs no privilege beyond writing the scope_info table, works
// on MySQL as on MariaDB, and names the database a change came from. Of
// the alternatives (measured on MariaDB 10.11, docs/configuration.md),
// SET SESSION gtid_domain_id needs SUPER or BINLOG REPLAY, which managed
// servers do not grant, and adds a GTID domain per apply worker to every
// replica's position; SET SESSION skip_replication needs no privilege but
// carries one bit, not the database, which a hub must know to forward a
// spoke's change to the other spokes. Its cost is one statement per
// target transaction.
func (t *Target) mark(ctx context.Context, stx *sql.Tx) error {
	if t.cfg.Origin == "" {
		return nil
	}
	source, scope, _, ok := capture.ParseOrigin(t.cfg.Origin)
	if !ok {
		return fmt.Errorf("target %s: origin %q is not syncd's", t.cfg.Name, t.cfg.Origin)
	}
	if _, err := stx.ExecContext(ctx, t.sql.mark, scope, source, t.cfg.SyncdVersion); err != nil {
		return fmt.Errorf("mark a transaction at target %s with origin %s: %w", t.cfg.Name, t.cfg.Origin, err)
	}
	return nil
}

// ScopeInfoTableID returns the scope_info table of a target with dsn and
// scope_info_table name ("" for the default), as a capture of the same
// database names it (capture/mysql Config.OriginTables).
func ScopeInfoTableID(dsn, name string) (capture.TableID, error) {
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return capture.TableID{}, fmt.Errorf("parse dsn: %w", err)
	}
	if name == "" {
		name = apply.DefaultScopeInfoTable
	}
	n := splitName(name, dc.DBName)
	return capture.TableID{Schema: n.db, Name: n.name}, nil
}
