package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestSnapshotHandOff snapshots a table with a filter while rows are
// inserted concurrently: the snapshot is a truncate plus reads of
// matching rows only, in chunks between which live changes go on; every
// row is in the copy or a live change after the truncate, never
// neither, and no row is read before its live insert or read twice.
func TestSnapshotHandOff(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY, qty int)`,
		`INSERT INTO item SELECT seq, seq % 2 FROM seq_1_to_25000`)
	db, err := sql.Open("mysql", m.DSN("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Insert rows, each in its own transaction, until stopped.
	ctx, stopInserts := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var inserted int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for id := 100_001; ctx.Err() == nil; id++ {
			if _, err := db.Exec("INSERT INTO item VALUES (?, ?)", id, id%2); err != nil {
				t.Errorf("insert: %v", err)
				return
			}
			inserted = id
		}
	}()
	defer func() { stopInserts(); wg.Wait() }()

	id := capture.TableID{Schema: "shop", Name: "item"}
	req := capture.SnapshotRequest{Scope: "odd", Table: id, Truncate: true, Where: func(args []any) (string, []any) {
		return "`qty` = ?", append(args, 1)
	}}
	rec := &recorder{snaps: []capture.SnapshotRequest{req}}
	r := start(t, Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t)}, snapshotRecorder{rec})
	rec.waitSnapshotDone(t)
	// Let some live inserts follow the snapshot.
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		events, _, _ := rec.get()
		if n := len(events); events[n-1].Op != capture.OpInsert {
			return fmt.Errorf("no live insert after the snapshot yet")
		}
		return nil
	})
	stopInserts()
	wg.Wait()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		events, _, _ := rec.get()
		if n := len(events); n == 0 || events[n-1].After == nil || events[n-1].After[0] != int32(inserted) {
			return fmt.Errorf("last row %d not read yet", inserted)
		}
		return nil
	})
	r.stop(t)

	events, txns, _ := rec.get()
	if events[0].Op != capture.OpTruncate || events[0].Scope != "odd" || !events[0].Txn.Snapshot {
		t.Fatalf("first event %+v, want the snapshot's truncate", events[0])
	}
	chunks := 0
	for _, txn := range txns {
		if txn.Snapshot {
			chunks++
		}
	}
	seen := map[int32]string{}
	reads := 0
	for _, ev := range events[1:] {
		k := ev.After[0].(int32)
		switch {
		case ev.Op == capture.OpRead:
			reads++
			if ev.Scope != "odd" || ev.After[1] != int32(1) || !ev.Txn.Snapshot {
				t.Fatalf("read %v scope %q in %+v: want odd rows in snapshot transactions", ev.After, ev.Scope, ev.Txn)
			}
			if prev, dup := seen[k]; dup && prev == "r" {
				t.Fatalf("row %d read twice", k)
			}
		case ev.Op == capture.OpInsert:
			if prev, dup := seen[k]; dup {
				t.Fatalf("live insert of row %d after its %s", k, prev)
			}
		default:
			t.Fatalf("unexpected %c", ev.Op)
		}
		seen[k] = ev.Op.String()
	}
	rows, err := db.Query("SELECT id, qty FROM item")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, qty int32
		if err := rows.Scan(&k, &qty); err != nil {
			t.Fatal(err)
		}
		if _, ok := seen[k]; qty == 1 && !ok {
			t.Errorf("row %d is neither in the snapshot nor a live change", k)
		}
	}
	if reads < 12500 || len(rec.done) != 1 || chunks < 3 {
		t.Errorf("%d reads, done %v, %d snapshot transactions: want at least the 12500 odd preloaded rows, in a truncate and two chunks or more, one snapshot done", reads, rec.done, chunks)
	}
	if st := r.src.Status(); st.Snapshot != nil || st.SnapshotsPending != 0 {
		t.Errorf("status %+v after the snapshot", st)
	}
}
