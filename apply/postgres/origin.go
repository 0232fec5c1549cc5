package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "23505") { // created meanwhile
			return fmt.Errorf("create replication origin %q (grant EXECUTE on pg_replication_origin_create(text)): %w", origin, err)
		}
	}
	if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_session_setup($1)", origin); err != nil {
		return fmt.Errorf("set up replication origin %q (grant EXECUTE on pg_replication_origin_session_setup(text)): %w", origin, err)
	}
	return nil
}
