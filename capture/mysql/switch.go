package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/syncd-dev/syncd/capture"
)

// A switch point (capture.Switcher) is an autocommit INSERT into the
// signal table, as the watermarks: its row names the source, the server
// id and the scope version.

// signalSwitch is a switch point, as the signal table's watermark column
// holds it in JSON.
type signalSwitch struct {
	Source   string          `json:"source"`
	ServerID uint32          `json:"server_id"`
	Switch   *capture.Switch `json:"switch"`
}

// writeSwitches writes a switch point for each version sink waits for,
// before the session takes any snapshot. A session without a saved
// position starts reading at the binlog's end or at a snapshot, after
// them: it writes none, and the sink switches at its first transaction.
func (s *Source) writeSwitches(ctx context.Context, db *sql.DB, srv *server, sink capture.Sink) error {
	sw, ok := sink.(capture.Switcher)
	if !ok || srv.saved == nil {
		return nil
	}
	signal := quoteTable(s.signalTable())
	for _, v := range sw.Switches() {
		b, err := json.Marshal(signalSwitch{Source: s.cfg.Name, ServerID: s.cfg.ServerID, Switch: &v})
		if err != nil {
			return fmt.Errorf("write the switch point of scope %s: %w", v.Scope, err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO "+signal+" (watermark) VALUES (?)", string(b)); err != nil {
			return fmt.Errorf("write the switch point of scope %s version %d into the signal table %s (the user needs INSERT on it): %w", v.Scope, v.Version, signal, err)
		}
		s.log.Info("switch point written", "scope", v.Scope, "version", v.Version)
	}
	return nil
}

// signalSwitches notes on the open transaction the switch points of this
// source among the signal table's inserted rows; commit passes them on.
func (ss *session) signalSwitches(text []byte) {
	var m signalSwitch
	if ss.txn == nil || json.Unmarshal(text, &m) != nil || m.Switch == nil || m.Source != ss.src.cfg.Name || m.ServerID != ss.src.cfg.ServerID {
		return
	}
	ss.txn.switches = append(ss.txn.switches, *m.Switch)
}

// passSwitches passes the switch points of t, which commits, to the sink
// in t, begun at the sink for them if it was not.
func (ss *session) passSwitches(ctx context.Context, t *openTxn) error {
	sw, ok := ss.sink.(capture.Switcher)
	if !ok || len(t.switches) == 0 || t.skip {
		return nil
	}
	if err := ss.beginSink(ctx, t); err != nil {
		return err
	}
	for _, v := range t.switches {
		if err := sw.Switched(ctx, t.ctxn, v); err != nil {
			return err
		}
	}
	return nil
}
