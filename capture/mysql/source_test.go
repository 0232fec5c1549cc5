package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/checkpoint/retry"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestEvents checks inserts, updates, deletes and truncates of published
// tables: transaction framing, positions, ids, and that unpublished
// tables produce nothing.
func TestEvents(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop",
		`CREATE TABLE item (id int PRIMARY KEY, name varchar(20), qty int)`,
		`CREATE TABLE other (id int PRIMARY KEY)`)
	rec := &recorder{}
	r := start(t, Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t)}, rec)
	m.Exec(t, "shop",
		`INSERT INTO item VALUES (1, 'a', 1), (2, 'b', NULL)`,
		`INSERT INTO other VALUES (1)`,
		`UPDATE item SET qty = 5 WHERE id = 1`,
		`BEGIN`, `DELETE FROM item WHERE id = 2`, `INSERT INTO other VALUES (2)`, `COMMIT`,
		`TRUNCATE TABLE item`,
		`CREATE TABLE later (id int PRIMARY KEY)`)
	var events []capture.Event
	var txns []capture.Txn
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if events, txns, _ = rec.get(); len(txns) < 4 {
			return fmt.Errorf("%d of 4 transactions", len(txns))
		}
		return nil
	})
	_, _, calls := rec.get()
	for i := 1; i < len(calls); i++ {
		if calls[i] == "begin" && calls[i-1] != "commit" || calls[i] == "commit" && calls[i-1] == "commit" {
			t.Fatalf("calls out of order: %v", calls)
		}
	}
	gtid := regexp.MustCompile(`^0-1-\d+$`)
	for i, txn := range txns {
		if txn.Pos != txn.Ack || txn.Pos>>32 != 1 || !gtid.MatchString(txn.ID) || txn.CommitTime.IsZero() || txn.CommitTime.Location() != time.UTC {
			t.Errorf("transaction %+v: want Pos = Ack in file 1, a gtid id, a UTC commit time", txn)
		}
		if i > 0 && txn.Pos <= txns[i-1].Pos {
			t.Errorf("positions do not grow: %s after %s", txn.Pos, txns[i-1].Pos)
		}
	}
	type want struct {
		op            capture.Op
		before, after capture.Row
	}
	wants := []want{
		{capture.OpInsert, nil, capture.Row{int32(1), "a", int32(1)}},
		{capture.OpInsert, nil, capture.Row{int32(2), "b", nil}},
		{capture.OpUpdate, capture.Row{int32(1), "a", int32(1)}, capture.Row{int32(1), "a", int32(5)}},
		{capture.OpDelete, capture.Row{int32(2), "b", nil}, nil},
		{capture.OpTruncate, nil, nil},
	}
	if len(events) != len(wants) {
		t.Fatalf("%d events, want %d: %+v", len(events), len(wants), events)
	}
	for i, w := range wants {
		ev := events[i]
		if ev.Table.Name != "item" || ev.Op != w.op || !rowsEqual(ev.Before, w.before) || !rowsEqual(ev.After, w.after) {
			t.Errorf("event %d: %c %v %v, want %c %v %v", i, ev.Op, ev.Before, ev.After, w.op, w.before, w.after)
		}
	}
	tab := events[0].Table
	if len(tab.Key) != 1 || tab.Key[0] != 0 || tab.Columns[1].Type != "varchar(20)" || tab.Columns[0].Type != "int" {
		t.Errorf("table = %+v, want key [0], int and varchar(20)", tab)
	}
	if events[2].Table != tab {
		t.Error("one table version made two *Tables")
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st := r.src.Status(); st.LastDDL == nil || st.LastDDL.Query != "CREATE TABLE later (id int PRIMARY KEY)" {
			return fmt.Errorf("last ddl %+v", st.LastDDL)
		}
		return nil
	})
}

func rowsEqual(a, b capture.Row) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if fmt.Sprintf("%T %#v", a[i], a[i]) != fmt.Sprintf("%T %#v", b[i], b[i]) {
			return false
		}
	}
	return true
}

// TestAlterWithUnreadEvents reads rows logged before and after an ALTER
// TABLE only after the ALTER: each row keeps the columns it was logged
// with.
func TestAlterWithUnreadEvents(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY, name varchar(20))`)
	store := newStore(t)
	cfg := Config{DSN: dsn, Tables: tables("shop", "item"), Store: store}
	r := start(t, cfg, &recorder{})
	r.stop(t) // saves the position: the binlog's end
	m.Exec(t, "shop",
		`INSERT INTO item VALUES (1, 'old')`,
		`ALTER TABLE item ADD COLUMN price decimal(10,2) NOT NULL DEFAULT 0 AFTER id`,
		`INSERT INTO item VALUES (2, 9.50, 'new')`)
	rec := &recorder{}
	r = start(t, cfg, rec)
	var events []capture.Event
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if events, _, _ = rec.get(); len(events) < 2 {
			return fmt.Errorf("%d of 2 events", len(events))
		}
		return nil
	})
	// Both versions of the table count as one table.
	var counted dto.Metric
	if err := r.src.metrics.Events.WithLabelValues("shop.item", "c").Write(&counted); err != nil {
		t.Fatal(err)
	}
	if n := counted.GetCounter().GetValue(); n != 2 {
		t.Errorf("events counted for shop.item inserts: %v, want 2", n)
	}
	if !rowsEqual(events[0].After, capture.Row{int32(1), "old"}) || len(events[0].Table.Columns) != 2 {
		t.Errorf("old row %v columns %v", events[0].After, events[0].Table.Columns)
	}
	if !rowsEqual(events[1].After, capture.Row{int32(2), capture.Decimal("9.50"), "new"}) || events[1].Table.Columns[1] != (capture.Column{Name: "price", Type: "decimal(10,2)"}) {
		t.Errorf("new row %v columns %v", events[1].After, events[1].Table.Columns)
	}
	if events[0].Table == events[1].Table {
		t.Error("the ALTER made no new *Table")
	}
}

// TestResume stops a source and starts it again: the second run reads
// from the saved position, so no change is missing, and repeats none of
// the first run's durable transactions.
func TestResume(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY)`)
	cfg := Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t), SaveInterval: 10 * time.Millisecond}
	ids := func(rec *recorder) map[int32]int {
		events, _, _ := rec.get()
		seen := map[int32]int{}
		for _, ev := range events {
			seen[ev.After[0].(int32)]++
		}
		return seen
	}
	first := &recorder{}
	r := start(t, cfg, first)
	for i := 1; i <= 20; i++ {
		m.Exec(t, "shop", fmt.Sprintf(`INSERT INTO item VALUES (%d)`, i))
	}
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if n := len(ids(first)); n < 20 {
			return fmt.Errorf("%d of 20 rows", n)
		}
		return nil
	})
	r.stop(t)
	if st := r.src.Status(); st.Saved == "" || st.SavedGTID == "" {
		t.Fatalf("status after stop: %+v, want a saved position and gtid", st)
	}
	for i := 21; i <= 40; i++ {
		m.Exec(t, "shop", fmt.Sprintf(`INSERT INTO item VALUES (%d)`, i))
	}
	second := &recorder{}
	start(t, cfg, second)
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if n := len(ids(second)); n < 20 {
			return fmt.Errorf("%d of 20 rows", n)
		}
		return nil
	})
	for id, n := range ids(second) {
		if id <= 20 || id > 40 || n != 1 {
			t.Errorf("second run read row %d %d times, want rows 21..40 once", id, n)
		}
	}
}

// TestFirstStartSavesItsStart: a first start saves where it began
// reading at once, not at the first save interval or stop, so that a
// crash right after it (a SIGKILL saves nothing) has the next start read
// the rows written meanwhile instead of starting at the binlog's new end.
func TestFirstStartSavesItsStart(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY)`)
	store := newStore(t)
	cfg := Config{DSN: dsn, Tables: tables("shop", "item"), Store: store, SaveInterval: time.Hour}
	first := start(t, cfg, &recorder{})
	if saved, err := store.Load(context.Background(), "shop"); err != nil || saved == nil {
		t.Fatalf("a started source saved %s (%v), want where it began reading", saved, err)
	}
	first.stop(t)
	m.Exec(t, "shop", `INSERT INTO item VALUES (1)`)
	second := &recorder{}
	start(t, cfg, second)
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if events, _, _ := second.get(); len(events) != 1 {
			return fmt.Errorf("the second run read %d changes, want the row written while stopped", len(events))
		}
		return nil
	})
}

// TestLargeTransaction streams one transaction of 200,000 rows: more
// than a source holds back, so its commit position is looked up ahead.
func TestLargeTransaction(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE big (id int PRIMARY KEY, v varchar(10))`, `CREATE TABLE small (id int PRIMARY KEY)`)
	rec := &recorder{countOnly: true}
	start(t, Config{DSN: dsn, Tables: tables("shop", "big", "small"), Store: newStore(t)}, rec)
	m.Exec(t, "shop", `INSERT INTO big SELECT seq, 'x' FROM seq_1_to_200000`, `INSERT INTO small VALUES (1)`)
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error {
		if _, txns, _ := rec.get(); len(txns) < 2 {
			return fmt.Errorf("%d of 2 transactions", len(txns))
		}
		return nil
	})
	_, txns, _ := rec.get()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.changes != 200_001 {
		t.Errorf("%d changes, want 200001", rec.changes)
	}
	if txns[0].Pos >= txns[1].Pos || txns[0].Pos != txns[0].Ack {
		t.Errorf("transactions %+v", txns)
	}
	// The small transaction's position is exact; the large one's must end
	// where the small one's GTID event starts, in the same file.
	if txns[0].Pos>>32 != txns[1].Pos>>32 {
		t.Errorf("transactions in different files: %+v", txns)
	}
}

func TestTruncateParse(t *testing.T) {
	tests := []struct {
		q    string
		want capture.TableID
		ok   bool
	}{
		{"TRUNCATE TABLE item", capture.TableID{Schema: "shop", Name: "item"}, true},
		{"truncate `a.b`.`c``d`", capture.TableID{Schema: "a.b", Name: "c`d"}, true},
		{"TRUNCATE x.y;", capture.TableID{Schema: "x", Name: "y"}, true},
		{"TRUNCATED", capture.TableID{}, false},
		{"ALTER TABLE t", capture.TableID{}, false},
	}
	for _, tt := range tests {
		got, ok := truncated(tt.q, "shop")
		if got != tt.want || ok != tt.ok {
			t.Errorf("truncated(%q) = %v %v, want %v %v", tt.q, got, ok, tt.want, tt.ok)
		}
	}
}

var _ = context.Background

// stuck is a sink that never reports anything durable: a JetStream that
// stopped acknowledging.
type stuck struct{ *recorder }

func (stuck) Durable() (capture.Position, bool) { return 0, false }

// TestRetentionRisk: a source caught up with an idle server moves its
// saved position past rotated binlog files and reports no risk; one whose
// saved position is stuck in the oldest file the server keeps reports
// the risk.
func TestRetentionRisk(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY)`)
	cfg := Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t), SaveInterval: 10 * time.Millisecond, RetentionCheck: 50 * time.Millisecond}

	idle := start(t, cfg, &recorder{})
	m.Exec(t, "shop", `INSERT INTO item VALUES (1)`, "FLUSH BINARY LOGS", "FLUSH BINARY LOGS")
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		st := idle.src.Status()
		if !strings.HasPrefix(st.Saved, "mariadb-bin.000003:") || st.OldestBinlog != "mariadb-bin.000001" || st.RetentionRisk != "" {
			return fmt.Errorf("status %+v; want the saved position in the newest file and no risk", st)
		}
		return nil
	})
	idle.stop(t)
	// Only file 3 on: the next source starts there, the oldest.
	m.PurgeBinaryLogsTo(t, "mariadb-bin.000003")

	behind := start(t, Config{DSN: dsn, Tables: cfg.Tables, Store: newStore(t), SaveInterval: 10 * time.Millisecond, RetentionCheck: 50 * time.Millisecond}, stuck{&recorder{}})
	// Its start is saved and checked while file 3 is the only one; from
	// then on the saved position does not move, and the check must go on.
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if st := behind.src.Status(); st.Saved == "" || st.OldestBinlog != "mariadb-bin.000003" {
			return fmt.Errorf("status %+v; want the start saved and checked", st)
		}
		return nil
	})
	m.Exec(t, "shop", `INSERT INTO item VALUES (2)`, "FLUSH BINARY LOGS", "FLUSH BINARY LOGS", `INSERT INTO item VALUES (3)`)
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		st := behind.src.Status()
		if !strings.Contains(st.RetentionRisk, "resumes from mariadb-bin.000003, the oldest of the 3 binlog files") {
			return fmt.Errorf("status %+v; want the retention risk named", st)
		}
		return nil
	})
}

// TestPurgedResnapshot: with Config.Resnapshot, a saved position whose
// binlog is purged makes Run ask the sink to take its snapshots again. If
// the sink refuses, Run fails terminally with both reasons; if it agrees,
// the table is copied as it is now, changes stream on after the copy, and
// the new position is saved.
func TestPurgedResnapshot(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `CREATE TABLE item (id int PRIMARY KEY)`, `INSERT INTO item VALUES (1), (2)`)
	cfg := Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t), SaveInterval: 10 * time.Millisecond, Resnapshot: true}

	firstRec := &recorder{}
	first := start(t, cfg, firstRec)
	m.Exec(t, "shop", `INSERT INTO item VALUES (3)`)
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		events, _, _ := firstRec.get()
		st := first.src.Status()
		if len(events) != 1 || st.Saved != fmt.Sprintf("%s:%d", st.File, st.Pos) || !strings.HasPrefix(st.Saved, "mariadb-bin.000001:") {
			return fmt.Errorf("events %d, status %+v; want the insert read and its position saved", len(events), st)
		}
		return nil
	})
	first.stop(t)
	// While stopped: changes, then their binlog is purged.
	m.Exec(t, "shop", `INSERT INTO item VALUES (4)`, `DELETE FROM item WHERE id = 1`, "FLUSH BINARY LOGS", "FLUSH BINARY LOGS")
	m.PurgeBinaryLogsTo(t, "mariadb-bin.000003")

	cfg.Name, cfg.ServerID = "shop", 4001
	src, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := src.Prepare(ctx); err != nil {
		t.Fatalf("Prepare with Resnapshot = %v, want no problem", err)
	}
	refusing := &recorder{refuse: fmt.Errorf("scope s does not allow it")}
	err = src.Run(ctx, snapshotRecorder{refusing})
	if !retry.IsTerminal(err) || !strings.Contains(err.Error(), "mariadb-bin.000001") || !strings.Contains(err.Error(), "has been purged") || !strings.Contains(err.Error(), "scope s does not allow it") {
		t.Fatalf("Run with a refusing sink = %v, want a terminal error naming the purged file and the refusal", err)
	}

	req := capture.SnapshotRequest{Scope: "s", Table: capture.TableID{Schema: "shop", Name: "item"}, Truncate: true}
	rec := &recorder{retake: []capture.SnapshotRequest{req}}
	r := start(t, cfg, snapshotRecorder{rec})
	rec.waitSnapshotDone(t)
	m.Exec(t, "shop", `INSERT INTO item VALUES (5)`)
	var got []string
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		events, _, calls := rec.get()
		got = got[:0]
		for _, ev := range events {
			if ev.After != nil {
				got = append(got, fmt.Sprintf("%s%v", ev.Op, ev.After[0]))
			} else {
				got = append(got, ev.Op.String())
			}
		}
		if want := "t r2 r3 r4 c5"; strings.Join(got, " ") != want || calls[0] != "resnapshot" {
			return fmt.Errorf("calls %v, events %v, want resnapshot first, then %s", calls, got, want)
		}
		if st := r.src.Status(); !strings.HasPrefix(st.Saved, "mariadb-bin.00000") || st.Saved < "mariadb-bin.000003" {
			return fmt.Errorf("status %+v; want a position after the purge saved", st)
		}
		return nil
	})
}

// TestCompressedBinlog reads a binlog MariaDB compresses
// (log_bin_compress): compressed rows and query events decode like
// plain ones.
func TestCompressedBinlog(t *testing.T) {
	m := testenv.StartMariaDB(t)
	dsn := m.CreateDB(t, "shop")
	m.Exec(t, "shop", `SET GLOBAL log_bin_compress = ON`, `SET GLOBAL log_bin_compress_min_len = 10`,
		`CREATE TABLE item (id int PRIMARY KEY, name varchar(200), qty int)`)
	rec := &recorder{}
	start(t, Config{DSN: dsn, Tables: tables("shop", "item"), Store: newStore(t)}, rec)
	a, b := strings.Repeat("a", 100), strings.Repeat("b", 100)
	m.Exec(t, "shop",
		fmt.Sprintf(`INSERT INTO item VALUES (1, '%s', 1), (2, '%s', NULL)`, a, b),
		`UPDATE item SET qty = 5 WHERE id = 1`,
		`DELETE FROM item WHERE id = 2`,
		`TRUNCATE TABLE item`)
	var events []capture.Event
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if events, _, _ = rec.get(); len(events) < 5 {
			return fmt.Errorf("%d of 5 events", len(events))
		}
		return nil
	})
	wants := []struct {
		op            capture.Op
		before, after capture.Row
	}{
		{capture.OpInsert, nil, capture.Row{int32(1), a, int32(1)}},
		{capture.OpInsert, nil, capture.Row{int32(2), b, nil}},
		{capture.OpUpdate, capture.Row{int32(1), a, int32(1)}, capture.Row{int32(1), a, int32(5)}},
		{capture.OpDelete, capture.Row{int32(2), b, nil}, nil},
		{capture.OpTruncate, nil, nil},
	}
	for i, w := range wants {
		if ev := events[i]; ev.Op != w.op || !rowsEqual(ev.Before, w.before) || !rowsEqual(ev.After, w.after) {
			t.Errorf("event %d: %c %v %v, want %c %v %v", i, ev.Op, ev.Before, ev.After, w.op, w.before, w.after)
		}
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logged, err := queryMaps(context.Background(), db, "SHOW BINLOG EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, r := range logged {
		kinds[r["event_type"]] = true
	}
	for _, k := range []string{"Write_rows_compressed_v1", "Update_rows_compressed_v1", "Delete_rows_compressed_v1", "Query_compressed"} {
		if !kinds[k] {
			t.Errorf("no %s event in the binlog: the test does not test compression (%v)", k, kinds)
		}
	}
}
