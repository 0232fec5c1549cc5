package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// setupOrigin makes conn's session mark every transaction it commits with
// the replication origin named origin, creating the origin if missing;
// nothing if origin is "". pgoutput then sends an Origin message for those
// transactions, which is how a capture of this database tells the changes
// syncd applied (capture.OriginSource).
//
// A replication origin is held by one session at a time, so each apply
// worker has its own (capture.SyncdOrigin names the scope). A session that
// ends, even killed, releases it. The user needs EXECUTE on
// pg_replication_origin_create(text) and
// pg_replication_origin_session_setup(text), which a superuser grants
// (PostgreSQL 14 and later; superuser before).
func setupOrigin(ctx context.Context, conn *pgx.Conn, origin string) error {
	if origin == "" {
		return nil
	}
	var exists bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_catalog.pg_replication_origin WHERE roname = $1)", origin).Scan(&exists)
	if err != nil {
		return fmt.Errorf("look up replication origin %q: %w", origin, err)
	}
	if !exists {
		_, err := conn.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_create($1)", origin)
		if err != nil && !isCode(err, "23505") { // created meanwhile
			return fmt.Errorf("create replication origin %q (grant EXECUTE on pg_replication_origin_create(text)): %w", origin, err)
		}
	}
	if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_session_setup($1)", origin); err != nil {
		return fmt.Errorf("set up replication origin %q (grant EXECUTE on pg_replication_origin_session_setup(text)): %w", origin, err)
	}
	return nil
}

// originStamp returns the statement that makes the transaction being
// committed carry commit time ts, as PostgreSQL's logical replication
// does for what it applies (pg_replication_origin_xact_setup): the
// commit timestamp track_commit_timestamp keeps of the rows it writes,
// and the commit time pgoutput sends, are then the source's, not the
// time syncd applied them, so that newer_wins compares when rows were
// first written wherever they went since (a hub's forwarded rows too).
// A zero ts clears a stamp an earlier transaction of the session set
// (pg_replication_origin_xact_reset), else nothing is to be done. The
// user needs EXECUTE on both functions, as on those of setupOrigin.
//
// A target transaction holding changes of several source transactions
// carries the latest of their commit times.
func (t *Target) originStamp(ts time.Time) (queued, bool) {
	switch {
	case t.cfg.Origin == "":
		return queued{}, false
	case !ts.IsZero():
		t.stamped = true
		return queued{sql: "SELECT pg_catalog.pg_replication_origin_xact_setup('0/0', $1)", args: []any{ts}}, true
	case t.stamped:
		t.stamped = false
		return queued{sql: "SELECT pg_catalog.pg_replication_origin_xact_reset()"}, true
	}
	return queued{}, false
}
