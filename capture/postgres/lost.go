package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// A slot syncd created can disappear: an operator drops it, the server
// fails over to a replica that has none, or PostgreSQL invalidates it for
// holding back more WAL than max_slot_wal_keep_size (wal_status = lost).
// Creating a new slot then would silently skip the changes in between. So
// a source with a Store records the slot it created there; finding that
// slot missing or lost is reported as lost changes, and only with
// Config.Resnapshot does the source make a new slot and have the sink
// take every snapshot again.

// slotRecord is what the Store keeps for a PostgreSQL source.
type slotRecord struct {
	Slot    string    `json:"slot"`
	Created time.Time `json:"created"`
	// Lost is why the slot before this one was lost. It stays until the
	// sink has agreed to take its snapshots again, so a crash in between
	// does not forget it.
	Lost string `json:"lost,omitempty"`
}

// loadRecord returns the source's slot record, nil if it has none or
// keeps no Store.
func (s *Source) loadRecord(ctx context.Context) (*slotRecord, error) {
	if s.cfg.Store == nil {
		return nil, nil
	}
	b, err := s.cfg.Store.Load(ctx, s.cfg.Name)
	if err != nil || b == nil {
		return nil, err
	}
	var rec slotRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.Slot == "" {
		return nil, retry.Terminal(fmt.Errorf("the saved state of source %s is not a PostgreSQL slot record (%q): delete it (nats kv del syncd_positions source.%s) if the source was another kind before", s.cfg.Name, b, s.cfg.Name))
	}
	return &rec, nil
}

func (s *Source) saveRecord(ctx context.Context, rec *slotRecord) error {
	if s.cfg.Store == nil {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.cfg.Store.Save(ctx, s.cfg.Name, b)
}

// recordDeleter is a Store that can forget a source's state.
type recordDeleter interface {
	Delete(ctx context.Context, source string) error
}

// restoreRecord makes prior the source's record again; nil deletes it.
func (s *Source) restoreRecord(ctx context.Context, prior *slotRecord) error {
	if prior != nil || s.cfg.Store == nil {
		return s.saveRecord(ctx, prior)
	}
	d, ok := s.cfg.Store.(recordDeleter)
	if !ok {
		return fmt.Errorf("delete the slot record of source %s: its store cannot delete", s.cfg.Name)
	}
	return d.Delete(ctx, s.cfg.Name)
}

// slotLost returns why the changes since the slot's confirmed position
// are gone, or nil: slot is what the server has (nil if none), rec what
// syncd recorded.
func (s *Source) slotLost(slot *slotInfo, rec *slotRecord) error {
	var why string
	switch {
	case slot != nil && slot.walStatus == "lost":
		why = fmt.Sprintf("replication slot %q has lost WAL that source %s still needs (wal_status = lost: it held back more than max_slot_wal_keep_size)", s.cfg.Slot, s.cfg.Name)
	case slot == nil && rec != nil && rec.Slot == s.cfg.Slot:
		why = fmt.Sprintf("replication slot %q, which syncd created for source %s on %s, is gone (dropped, or the server is a promoted replica without it)", s.cfg.Slot, s.cfg.Name, rec.Created.Format(time.RFC3339))
	default:
		return nil
	}
	return fmt.Errorf("%s; the changes since syncd's last confirmed position are lost to syncd: set snapshot = \"when_needed\" on the source's scopes to have syncd create a new slot and copy their tables again, or go on without them: drop the slot if it is left, delete the record (nats kv del syncd_positions source.%s) and the scopes' snapshot records", why, s.cfg.Name)
}

// replaceLostSlot drops a lost slot, if the server still lists it, and
// records why before a new one is made.
func (s *Source) replaceLostSlot(ctx context.Context, cat *pgx.Conn, slot *slotInfo, lost error) error {
	s.log.Warn("the replication slot lost changes: creating a new one, and the scopes' snapshots will be taken again", "error", lost)
	if err := s.saveRecord(ctx, &slotRecord{Slot: s.cfg.Slot, Created: time.Now().UTC(), Lost: lost.Error()}); err != nil {
		return err
	}
	if slot != nil {
		if _, err := cat.Exec(ctx, "SELECT pg_drop_replication_slot($1)", s.cfg.Slot); err != nil {
			return fmt.Errorf("drop lost replication slot %s: %w", s.cfg.Slot, err)
		}
	}
	return nil
}

// resnapshot asks the sink to take every snapshot again after the slot
// before this one lost changes; rec.Lost says why. Once the sink agrees,
// the record forgets it.
func (s *Source) resnapshot(ctx context.Context, rec *slotRecord, sink capture.Sink) error {
	if err := capture.SnapshotAgain(ctx, sink, errors.New(rec.Lost)); err != nil {
		return err
	}
	rec.Lost = ""
	return s.saveRecord(ctx, rec)
}
