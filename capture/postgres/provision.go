package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
)

// tableInfo is what the catalog says about one published table.
type tableInfo struct {
	id       capture.TableID
	identity byte     // relreplident: 'd' default, 'f' full, 'i' index, 'n' nothing
	pk       []string // primary key columns, in key order
	columns  []string
	types    []string // format_type of each column
}

// table returns the table as the catalog describes it, for
// capture.TableSpec.Check.
func (ti *tableInfo) table() *capture.Table {
	t := &capture.Table{Schema: ti.id.Schema, Name: ti.id.Name, Columns: make([]capture.Column, len(ti.columns))}
	for i, name := range ti.columns {
		t.Columns[i] = capture.Column{Name: name, Type: ti.types[i]}
	}
	for _, k := range ti.pk {
		t.Key = append(t.Key, slices.Index(ti.columns, k))
	}
	return t
}

// provision checks the server and the tables, then makes sure the
// publication and the slot exist. Every check runs before anything is
// created, and all problems are reported together, so a bad setting or
// table leaves nothing half-made. It notes in m what it creates.
func (s *Source) provision(ctx context.Context, cat *pgx.Conn, m *made) (map[capture.TableID]*tableInfo, *slotRecord, error) {
	var problems []error
	var walLevel string
	if err := cat.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		return nil, nil, fmt.Errorf("read wal_level: %w", err)
	}
	if walLevel != "logical" {
		problems = append(problems, fmt.Errorf("wal_level is %q, logical replication needs wal_level = logical: run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL", walLevel))
	}
	var role string
	var canReplicate bool
	if err := cat.QueryRow(ctx, "SELECT current_user, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&role, &canReplicate); err != nil {
		return nil, nil, fmt.Errorf("read role attributes: %w", err)
	}
	if !canReplicate {
		problems = append(problems, fmt.Errorf("role %q lacks the REPLICATION attribute: run ALTER ROLE %s WITH REPLICATION", role, pgx.Identifier{role}.Sanitize()))
	}

	tables, err := s.checkTables(ctx, cat, &problems)
	if err != nil {
		return nil, nil, err
	}
	slot, err := s.readSlot(ctx, cat, &problems)
	if err != nil {
		return nil, nil, err
	}
	rec, err := s.loadRecord(ctx)
	if err != nil {
		return nil, nil, err
	}
	lost := s.slotLost(slot, rec)
	if lost != nil && !s.cfg.Resnapshot {
		problems = append(problems, lost)
	}
	if len(problems) > 0 {
		return nil, nil, retry.Terminal(errors.Join(problems...))
	}

	created, err := s.ensurePublication(ctx, cat)
	if err != nil {
		return nil, nil, err
	}
	m.publication = m.publication || created
	before := rec
	if lost != nil {
		m.noteRecord(before)
		if err := s.replaceLostSlot(ctx, cat, slot, lost); err != nil {
			return nil, nil, err
		}
		slot, rec = nil, &slotRecord{Slot: s.cfg.Slot, Lost: lost.Error()}
	}
	if slot == nil {
		createdSlot, err := s.createSlot(ctx)
		if err != nil {
			if created {
				if _, derr := cat.Exec(context.WithoutCancel(ctx), "DROP PUBLICATION IF EXISTS "+ident(s.cfg.Publication)); derr != nil {
					s.log.Error("could not drop the publication created for a slot that failed", "publication", s.cfg.Publication, "error", derr)
				} else {
					m.publication = false
				}
			}
			return nil, nil, err
		}
		m.slot = m.slot || createdSlot
	}
	if slot == nil || rec == nil || rec.Slot != s.cfg.Slot {
		// A new slot, or one from before syncd kept records, or renamed.
		// A loss recorded for this slot name stays until Run deals with it.
		next := &slotRecord{Slot: s.cfg.Slot, Created: time.Now().UTC()}
		if rec != nil && rec.Slot == s.cfg.Slot {
			next.Lost = rec.Lost
		}
		m.noteRecord(before)
		if err := s.saveRecord(ctx, next); err != nil {
			return nil, nil, err
		}
		rec = next
	}
	return tables, rec, nil
}

// made is what provision created, so that Unprovision can undo it. It
// adds up what several provisions with the same made created.
type made struct {
	publication bool // created the publication
	slot        bool // created the slot
	// record is set when provision wrote the slot record; prior is the
	// record the Store held before (nil for none).
	record bool
	prior  *slotRecord
}

// noteRecord notes that the slot record is about to be written over
// prior, the record provision found, unless an earlier write is noted.
func (m *made) noteRecord(prior *slotRecord) {
	if !m.record {
		m.record, m.prior = true, prior
	}
}

// unprovision undoes what m says a provision created, newest first, and
// stops at the first step that fails, so that what is left still fits
// together for the next start: the record is put back as it was before
// the slot is dropped (a record naming a slot that is gone would read as
// lost changes), and the slot is dropped before the publication (a slot
// must not outlive the publication it was made after).
func (s *Source) unprovision(ctx context.Context, m *made) error {
	if m.record {
		if err := s.restoreRecord(ctx, m.prior); err != nil {
			return err
		}
		m.record = false
		if m.prior == nil {
			s.log.Info("deleted the slot record this start had written")
		} else {
			s.log.Info("restored the slot record this start had overwritten", "recorded_slot", m.prior.Slot)
		}
	}
	if !m.slot && !m.publication {
		return nil
	}
	cat, err := s.connectCatalog(ctx)
	if err != nil {
		return err
	}
	defer cat.Close(context.WithoutCancel(ctx))
	if m.slot {
		// Nothing streams from the slot yet, and createSlot closed the
		// connection that made it, so the slot is not active.
		if _, err := cat.Exec(ctx, "SELECT pg_drop_replication_slot($1)", s.cfg.Slot); err != nil {
			return fmt.Errorf("drop replication slot %s: %w", s.cfg.Slot, err)
		}
		m.slot = false
		s.log.Info("dropped the replication slot this start had created")
	}
	if m.publication {
		if _, err := cat.Exec(ctx, "DROP PUBLICATION "+ident(s.cfg.Publication)); err != nil {
			return fmt.Errorf("drop publication %s: %w", s.cfg.Publication, err)
		}
		m.publication = false
		s.log.Info("dropped the publication this start had created", "publication", s.cfg.Publication)
	}
	return nil
}

// checkTables reads every published table from the catalog and adds a
// problem for each that is missing, lacks a column a scope uses, or could
// not be published safely.
func (s *Source) checkTables(ctx context.Context, cat *pgx.Conn, problems *[]error) (map[capture.TableID]*tableInfo, error) {
	const q = `
SELECT c.relreplident,
       coalesce((SELECT array_agg(a.attname ORDER BY k.ord)
                   FROM pg_index i
                   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = c.oid AND i.indisprimary), '{}'),
       coalesce((SELECT array_agg(a.attname ORDER BY a.attnum)
                   FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
       coalesce((SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
                   FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`
	tables := make(map[capture.TableID]*tableInfo, len(s.cfg.Tables))
	for _, spec := range s.cfg.Tables {
		ti := &tableInfo{id: spec.ID}
		err := cat.QueryRow(ctx, q, spec.ID.Schema, spec.ID.Name).Scan(&ti.identity, &ti.pk, &ti.columns, &ti.types)
		if errors.Is(err, pgx.ErrNoRows) {
			*problems = append(*problems, fmt.Errorf("table %s (scope %s) does not exist in database %s", spec.ID, strings.Join(spec.Scopes, ", "), s.dbName))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read table %s: %w", spec.ID, err)
		}
		switch {
		case ti.identity == 'n':
			*problems = append(*problems, fmt.Errorf("table %s has REPLICA IDENTITY NOTHING: updates and deletes on it would fail once it is published; run ALTER TABLE %s REPLICA IDENTITY DEFAULT (with a primary key) or FULL", spec.ID, quoteTable(spec.ID)))
		case ti.identity == 'd' && len(ti.pk) == 0:
			*problems = append(*problems, fmt.Errorf("table %s has no primary key and its REPLICA IDENTITY is not FULL: publishing it would make every UPDATE and DELETE on it fail; add a primary key or run ALTER TABLE %s REPLICA IDENTITY FULL", spec.ID, quoteTable(spec.ID)))
		case ti.identity != 'f' && len(spec.TwoWay) > 0:
			*problems = append(*problems, fmt.Errorf("table %s is in two-way scope %s, whose conflict detection needs whole old rows, but its REPLICA IDENTITY is not FULL: run ALTER TABLE %s REPLICA IDENTITY FULL", spec.ID, strings.Join(spec.TwoWay, ", "), quoteTable(spec.ID)))
		}
		complete := true
		for _, col := range spec.Columns {
			if !slices.Contains(ti.columns, col) {
				*problems = append(*problems, fmt.Errorf("table %s has no column %q, which scope %s uses", spec.ID, col, strings.Join(spec.Scopes, ", ")))
				complete = false
			}
		}
		if spec.Check != nil && complete {
			if err := spec.Check(ti.table()); err != nil {
				*problems = append(*problems, err)
			}
		}
		tables[spec.ID] = ti
	}
	return tables, nil
}

type slotInfo struct {
	plugin, database string
	temporary        bool
	walStatus        string // reserved, extended, unreserved or lost
}

// readSlot returns the slot if it exists, adding a problem if it cannot be
// used by this source.
func (s *Source) readSlot(ctx context.Context, cat *pgx.Conn, problems *[]error) (*slotInfo, error) {
	var si slotInfo
	err := cat.QueryRow(ctx, `SELECT coalesce(plugin, ''), coalesce(database, ''), temporary, coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).
		Scan(&si.plugin, &si.database, &si.temporary, &si.walStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read slot %s: %w", s.cfg.Slot, err)
	}
	if si.plugin != "pgoutput" || si.database != s.dbName || si.temporary {
		*problems = append(*problems, fmt.Errorf("replication slot %q exists but is not a permanent pgoutput slot of database %s (plugin %q, database %q, temporary %v): drop it or set another slot name", s.cfg.Slot, s.dbName, si.plugin, si.database, si.temporary))
	}
	return &si, nil
}

// ensurePublication creates the publication, or sets its tables and
// options to what the source needs. It reports whether it created it.
func (s *Source) ensurePublication(ctx context.Context, cat *pgx.Conn) (bool, error) {
	want := make([]capture.TableID, 0, len(s.cfg.Tables))
	names := make([]string, 0, len(s.cfg.Tables))
	for _, t := range s.cfg.Tables {
		want = append(want, t.ID)
		names = append(names, quoteTable(t.ID))
	}
	slices.SortFunc(want, compareTableID)
	list := strings.Join(names, ", ")
	pub := ident(s.cfg.Publication)
	const options = " (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)"

	var allTables, complete bool
	err := cat.QueryRow(ctx, `
SELECT puballtables, pubinsert AND pubupdate AND pubdelete AND pubtruncate AND pubviaroot
  FROM pg_publication WHERE pubname = $1`, s.cfg.Publication).Scan(&allTables, &complete)
	if errors.Is(err, pgx.ErrNoRows) {
		s.log.Info("creating publication", "publication", s.cfg.Publication, "tables", len(want))
		if _, err := cat.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+list+" WITH"+options); err != nil {
			return false, fmt.Errorf("create publication %s: %w", s.cfg.Publication, err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read publication %s: %w", s.cfg.Publication, err)
	}
	if !allTables {
		rows, _ := cat.Query(ctx, `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`, s.cfg.Publication)
		current, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (capture.TableID, error) {
			var id capture.TableID
			return id, r.Scan(&id.Schema, &id.Name)
		})
		if err != nil {
			return false, fmt.Errorf("read tables of publication %s: %w", s.cfg.Publication, err)
		}
		slices.SortFunc(current, compareTableID)
		if !slices.Equal(current, want) {
			if err := s.setPublicationTables(ctx, cat, current, want, list); err != nil {
				return false, err
			}
		}
	}
	if !complete {
		if _, err := cat.Exec(ctx, "ALTER PUBLICATION "+pub+" SET"+options); err != nil {
			return false, fmt.Errorf("update publication %s: %w", s.cfg.Publication, err)
		}
	}
	return false, nil
}

// setPublicationTables makes want the publication's tables. Changes to
// a table added are published only by transactions that start after the
// ALTER commits: a transaction that wrote to it before and commits after
// would be decoded as of its writes, when the table was not published,
// and its rows lost (electric-sql/electric#4787). So the ALTER runs in a
// transaction that first locks the added tables in SHARE mode, which
// waits for their writers to finish and holds off new ones until the
// ALTER commits; the backfill that follows reads everything before.
func (s *Source) setPublicationTables(ctx context.Context, cat *pgx.Conn, current, want []capture.TableID, list string) error {
	var added []string
	for _, id := range want {
		if _, found := slices.BinarySearchFunc(current, id, compareTableID); !found {
			added = append(added, quoteTable(id))
		}
	}
	s.log.Info("updating publication tables", "publication", s.cfg.Publication, "tables", len(want), "added", len(added))
	err := pgx.BeginFunc(ctx, cat, func(tx pgx.Tx) error {
		if len(added) > 0 {
			if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(added, ", ")+" IN SHARE MODE"); err != nil {
				return fmt.Errorf("wait for the writers of the tables added: %w", err)
			}
		}
		_, err := tx.Exec(ctx, "ALTER PUBLICATION "+ident(s.cfg.Publication)+" SET TABLE "+list)
		return err
	})
	if err != nil {
		return fmt.Errorf("update publication %s: %w", s.cfg.Publication, err)
	}
	return nil
}

func compareTableID(a, b capture.TableID) int {
	if c := strings.Compare(a.Schema, b.Schema); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// createSlot creates a permanent logical slot with pgoutput. It reports
// false if another process created the slot first.
func (s *Source) createSlot(ctx context.Context) (bool, error) {
	conn, err := s.connectReplication(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s.log.Info("creating replication slot")
	_, err = pglogrepl.CreateReplicationSlot(ctx, conn, s.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42710" { // duplicate_object: created concurrently
			return false, nil
		}
		return false, fmt.Errorf("create replication slot %s: %w", s.cfg.Slot, err)
	}
	return true, nil
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func quoteTable(id capture.TableID) string { return pgx.Identifier{id.Schema, id.Name}.Sanitize() }
