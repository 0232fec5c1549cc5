package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLostSlot takes away the replication slot syncd reads while it is
// stopped, first by dropping it, then by PostgreSQL invalidating it for
// holding back more than max_slot_wal_keep_size. With snapshot =
// "initial", syncd refuses to start instead of creating a new slot that
// would silently skip the changes in between; with "when_needed" it
// creates one and copies the scope's tables again, so the target holds
// the rows changed and deleted meanwhile, and it streams on.
func TestLostSlot(t *testing.T) {
	r := newReplication(t, func(r *replication) {
		r.src.Exec(t, "app", `CREATE TABLE item (id int PRIMARY KEY, name text)`,
			`INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 100) g`)
	}, `
scope "items" {
  source   = "app"
  targets  = ["replica"]
  snapshot = "initial"
  table "public.item" {}
}`)
	query := []string{`SELECT id, name FROM item ORDER BY id`}
	r.d.Start()
	r.src.Exec(t, "app", `INSERT INTO item VALUES (101, 'live')`)
	waitIdentical(t, r, time.Minute, query, query)
	r.d.Stop()

	r.src.Exec(t, "app", `SELECT pg_drop_replication_slot('syncd_app')`,
		`UPDATE item SET name = 'changed' WHERE id = 2`, `DELETE FROM item WHERE id = 3`)
	code, out := runSyncd(t, "run", "--config", r.d.ConfigPath)
	if code != 1 || !regexp.MustCompile(`replication slot "syncd_app", which syncd created for source app on \S+, is gone`).MatchString(out) {
		t.Fatalf("syncd run without the slot: exit %d, want 1 and the lost slot named:\n%s", code, out)
	}

	writeFile(t, r.d.ConfigPath, strings.Replace(readFile(t, r.d.ConfigPath), `snapshot = "initial"`, `snapshot = "when_needed"`, 1))
	r.d.Start()
	waitIdentical(t, r, time.Minute, query, query)
	r.src.Exec(t, "app", `INSERT INTO item VALUES (102, 'after the new slot')`, `DELETE FROM item WHERE id = 4`)
	waitIdentical(t, r, time.Minute, query, query)
	r.d.Stop()

	// Invalidation: the slot holds back more WAL than allowed at a
	// checkpoint.
	r.src.Exec(t, "app", `ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`, `SELECT pg_reload_conf()`,
		`UPDATE item SET name = 'lost' WHERE id = 5`, `DELETE FROM item WHERE id = 6`)
	for i := 0; i < 4; i++ {
		r.src.Exec(t, "app", `CREATE TEMP TABLE filler AS SELECT g FROM generate_series(1, 100000) g`, `SELECT pg_switch_wal()`)
	}
	r.src.Exec(t, "app", `CHECKPOINT`)
	r.src.Exec(t, "app", `DO $$ BEGIN
  IF (SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'syncd_app') <> 'lost' THEN
    RAISE EXCEPTION 'slot not invalidated: %', (SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'syncd_app');
  END IF;
END $$`)
	r.src.Exec(t, "app", `ALTER SYSTEM RESET max_slot_wal_keep_size`, `SELECT pg_reload_conf()`)
	r.d.Start()
	waitIdentical(t, r, time.Minute, query, query)
	if logs := r.d.Logs(); !strings.Contains(logs, "wal_status = lost") || !strings.Contains(logs, "taking every snapshot of the source's scopes again") {
		t.Fatalf("syncd did not log why it took the snapshots again:\n%s", logs)
	}
}
