package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/capture"
)

// switchPrefix is the prefix of the logical decoding messages that are
// switch points (capture.Switcher).
const switchPrefix = "syncd.switch"

// switchPoint is the content of a switch point message. Every slot of
// the database sees it; Slot says whose it is.
type switchPoint struct {
	Slot string `json:"slot"`
	capture.Switch
}

// writeSwitches writes a switch point for each version sink waits for,
// each a transactional logical decoding message committed on its own,
// before the session takes any snapshot: so it is in the WAL before the
// first watermark or exported snapshot.
func (s *Source) writeSwitches(ctx context.Context, cat *pgx.Conn, sink capture.Sink) error {
	sw, ok := sink.(capture.Switcher)
	if !ok {
		return nil
	}
	for _, v := range sw.Switches() {
		b, err := json.Marshal(switchPoint{Slot: s.cfg.Slot, Switch: v})
		if err != nil {
			return fmt.Errorf("write the switch point of scope %s: %w", v.Scope, err)
		}
		var at pglogrepl.LSN
		if err := cat.QueryRow(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", switchPrefix, string(b)).Scan(&at); err != nil {
			return fmt.Errorf("write the switch point of scope %s version %d: %w", v.Scope, v.Version, err)
		}
		s.log.Info("switch point written", "scope", v.Scope, "version", v.Version, "lsn", capture.Position(at))
	}
	return nil
}

// switched passes a switch point of this slot, read in the open
// transaction, to the sink.
func (ss *session) switched(ctx context.Context, m *pglogrepl.LogicalDecodingMessage) error {
	sw, ok := ss.sink.(capture.Switcher)
	if !ok {
		return nil
	}
	var p switchPoint
	if json.Unmarshal(m.Content, &p) != nil || p.Slot != ss.src.cfg.Slot {
		return nil
	}
	return sw.Switched(ctx, ss.txn, p.Switch)
}
