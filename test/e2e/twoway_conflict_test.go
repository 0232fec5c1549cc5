package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// conflictTables are the tables of TestTwoWayConflicts, each with its
// policy: scope ab's, and scope ba's, which must agree; pgOnly for the
// policies of PostgreSQL pairs alone.
var conflictTables = []struct {
	name, ab, ba string
	pgOnly       bool
}{
	{"t_awins", `conflicts = "source_wins"`, `conflicts = "target_wins"`, false},
	{"t_newest", `conflicts = "newest_column"
    conflict_column = "n"`, `conflicts = "newest_column"
    conflict_column = "n"`, false},
	{"t_park", `conflicts = "park"`, `conflicts = "park"`, false},
	{"t_newer", `conflicts = "newer_wins"`, `conflicts = "newer_wins"`, true},
}

// tablesOf returns the conflictTables for a pair of a and b.
func tablesOf(a, b node) []string {
	var out []string
	for _, tb := range conflictTables {
		if !tb.pgOnly || a.kind == "postgres" && b.kind == "postgres" {
			out = append(out, tb.name)
		}
	}
	return out
}

// TestTwoWayConflicts syncs a and b both ways with a table per conflict
// policy (per-table overrides of the scopes' park), for PostgreSQL with
// PostgreSQL and with MariaDB. First, with syncd stopped, both sides
// write the same keys (update/update, delete/update, insert/insert):
// each policy picks the winner it names, and each conflict is on
// syncd.<scope>._conflict. Then both sides write random changes to the
// same few keys of t_newest at once, with a SIGKILL of syncd in the
// middle: both sides end identical, conflicts of those writes are on
// syncd.<scope>._conflict, and each scope's stream holds
// exactly the changes written at its source, nothing echoed, and stops
// growing: over a quiet interval measured by markers crossing, each grows
// by its source's markers alone (no loop). PostgreSQL pairs do the same on t_newer under newer_wins: the later
// commit wins, at both sides.
func TestTwoWayConflicts(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		pg := testenv.StartPostgres(t, testenv.WithSetting("track_commit_timestamp", "on"))
		twoWayConflicts(t, conflictNode(t, pgNode(t, pg, "a")), conflictNode(t, pgNode(t, pg, "b")))
	})
	t.Run("postgres-mariadb", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		m := testenv.StartMariaDB(t)
		twoWayConflicts(t, conflictNode(t, pgNode(t, pg, "a")), conflictNode(t, mariaNode(t, m, "b")))
	})
}

// conflictNode adds the tables of conflictTables to n, each holding keys
// 1 to 20, the same at every node.
func conflictNode(t *testing.T, n node) node {
	for _, tb := range conflictTables {
		if tb.pgOnly && n.kind != "postgres" {
			continue
		}
		stmts := []string{fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, v text, n int)", tb.name)}
		if n.kind == "postgres" {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s REPLICA IDENTITY FULL", tb.name))
		}
		for k := 1; k <= 20; k++ {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO %s VALUES (%d, 'seed', 0)", tb.name, k))
		}
		n.exec(stmts...)
	}
	return n
}

// writer writes to one node, counting the row changes it made.
type writer struct {
	db      *sql.DB
	changes atomic.Int64
}

func newWriter(t *testing.T, n node) *writer {
	db, err := sql.Open(n.driver, n.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &writer{db: db}
}

// exec runs stmt and counts the rows it changed.
func (w *writer) exec(t *testing.T, stmt string) {
	res, err := w.db.Exec(stmt)
	if err != nil {
		t.Errorf("%s: %v", stmt, err)
		return
	}
	n, _ := res.RowsAffected()
	w.changes.Add(n)
}

func twoWayConflicts(t *testing.T, a, b node) {
	schema := func(n node) string {
		if n.kind == "mysql" {
			return "b"
		}
		return "public"
	}
	var abTables, baTables strings.Builder
	for _, tb := range conflictTables {
		if !slices.Contains(tablesOf(a, b), tb.name) {
			continue
		}
		fmt.Fprintf(&abTables, "  table %q {\n    target = %q\n    %s\n  }\n", schema(a)+"."+tb.name, schema(b)+"."+tb.name, tb.ab)
		fmt.Fprintf(&baTables, "  table %q {\n    target = %q\n    %s\n  }\n", schema(b)+"."+tb.name, schema(a)+"."+tb.name, tb.ba)
	}
	d := newDaemon(t, pairHCL(a, b)+fmt.Sprintf(`
scope "ab" {
  source    = "a"
  targets   = ["tb"]
  snapshot  = "never"
  conflicts = "park"
%s}
scope "ba" {
  source    = "b"
  targets   = ["ta"]
  snapshot  = "never"
  conflicts = "park"
%s}
`, abTables.String(), baTables.String()))
	d.Start()
	nc := connect(t, d)
	waitStreams(t, nc, "ab", "ba")
	if b.kind == "mysql" {
		waitSaved(t, d, "b") // else a restart begins at the binlog's end
	}
	d.Kill()

	// Conflicting writes while syncd is down: each side's change meets
	// the other's at the other side.
	wa, wb := newWriter(t, a), newWriter(t, b)
	tables := tablesOf(a, b)
	newer := slices.Contains(tables, "t_newer")
	for _, tb := range conflictTables {
		if !slices.Contains(tables, tb.name) {
			continue
		}
		if tb.name == "t_newer" { // b first, then a: a's commit is later
			wb.exec(t, "UPDATE t_newer SET v = 'b', n = 9 WHERE id = 3")
			wa.exec(t, "UPDATE t_newer SET v = 'a', n = 8 WHERE id = 3")
		}
		wa.exec(t, fmt.Sprintf("UPDATE %s SET v = 'a', n = 5 WHERE id = 1", tb.name))
		wb.exec(t, fmt.Sprintf("UPDATE %s SET v = 'b', n = 7 WHERE id = 1", tb.name))
		wa.exec(t, fmt.Sprintf("DELETE FROM %s WHERE id = 2", tb.name))
		wb.exec(t, fmt.Sprintf("UPDATE %s SET v = 'b', n = 3 WHERE id = 2", tb.name))
		wa.exec(t, fmt.Sprintf("INSERT INTO %s VALUES (100, 'a', 2)", tb.name))
		wb.exec(t, fmt.Sprintf("INSERT INTO %s VALUES (100, 'b', 1)", tb.name))
	}
	waitDumpGone(t, b)
	d.Start()
	keys := "SELECT id, v, n FROM %s WHERE id IN (1, 2, 3, 100) AND (id <> 3 OR v <> 'seed') ORDER BY id"
	want := map[string]struct{ a, b string }{
		// a wins: its update, its delete (the update of a row a
		// deleted is not applied; b applies a's delete), its insert.
		"t_awins": {"1|a|5\n100|a|2\n", "1|a|5\n100|a|2\n"},
		// the greater n wins; a delete beats an update.
		"t_newest": {"1|b|7\n100|a|2\n", "1|b|7\n100|a|2\n"},
		// each side keeps its own rows.
		"t_park": {"1|a|5\n100|a|2\n", "1|b|7\n2|b|3\n100|b|1\n"},
	}
	if newer {
		// the later commit wins: b's on 1 and 100, a's on 3; a delete
		// beats an update.
		want["t_newer"] = struct{ a, b string }{"1|b|7\n3|a|8\n100|b|1\n", "1|b|7\n3|a|8\n100|b|1\n"}
	}
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		for tb, w := range want {
			for _, side := range []struct {
				n    node
				want string
			}{{a, w.a}, {b, w.b}} {
				got, err := rowsText(side.n, fmt.Sprintf(keys, tb))
				if err != nil {
					return err
				}
				if got != side.want {
					return fmt.Errorf("%s at %s holds\n%swant\n%s", tb, side.n.dsn, got, side.want)
				}
			}
		}
		return nil
	})

	// Concurrent writes to the same keys of t_newest, n from one counter
	// so that the newest write is the same for both sides, and a SIGKILL
	// in the middle.
	var counter atomic.Int64
	counter.Store(10)
	var wg sync.WaitGroup
	half := make(chan struct{})
	for i, w := range []*writer{wa, wb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for op := range 200 {
				if i == 0 && op == 100 {
					close(half)
				}
				k, n := 1+r.IntN(8), counter.Add(1)
				tb := "t_newest"
				if newer && op%2 == 1 {
					tb = "t_newer"
				}
				switch r.IntN(10) {
				case 0:
					w.exec(t, fmt.Sprintf("DELETE FROM %s WHERE id = %d", tb, k))
				case 1:
					w.exec(t, fmt.Sprintf("INSERT INTO %s VALUES (%d, 'w%d-%d', %d)", tb, 200+n, i, n, n))
				default:
					w.exec(t, fmt.Sprintf("UPDATE %s SET v = 'w%d-%d', n = %d WHERE id = %d", tb, i, n, n, k))
				}
			}
		}()
	}
	<-half
	d.Kill()
	waitDumpGone(t, b)
	d.Start()
	wg.Wait()
	// Markers, as in TestTwoWayNoLoop: once each has crossed, each
	// capture has read everything the other side's apply wrote before.
	wb.exec(t, "INSERT INTO t_awins VALUES (1000, 'marker-b', 0)")
	waitRow(t, withTable(a, "t_awins"), 1000)
	wa.exec(t, "INSERT INTO t_awins VALUES (1001, 'marker-a', 0)")
	waitRow(t, withTable(b, "t_awins"), 1001)
	converge := []string{"t_awins", "t_newest"}
	if newer {
		converge = append(converge, "t_newer")
	}
	for _, tb := range converge {
		testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
			ra, err := rowsText(a, "SELECT id, v, n FROM "+tb+" ORDER BY id")
			if err != nil {
				return err
			}
			rb, err := rowsText(b, "SELECT id, v, n FROM "+tb+" ORDER BY id")
			if err != nil {
				return err
			}
			if ra != rb {
				return fmt.Errorf("%s differs:\na:\n%s\nb:\n%s", tb, ra, rb)
			}
			return nil
		})
	}

	nc = connect(t, d) // to the restarted server
	// No loop: each stream holds the changes written at its source,
	// none that syncd applied there.
	for sc, w := range map[string]*writer{"ab": wa, "ba": wb} {
		if n, err := streamCount(t, nc, sc); err != nil || n != uint64(w.changes.Load()) {
			t.Errorf("stream %s holds %d messages (%v), want the %d row changes written at its source", sc, n, err, w.changes.Load())
		}
	}
	// The streams stop growing: over a quiet interval measured by
	// markers, not time (a, then b, then a again, each waited for at the
	// other side, so that each capture has read past the apply of the
	// marker before), each stream grows by its own markers alone. An
	// echo of a marker, or traffic still going round, would add more.
	quiet := map[string]uint64{}
	for _, sc := range []string{"ab", "ba"} {
		n, err := streamCount(t, nc, sc)
		if err != nil {
			t.Fatalf("stream %s: %v", sc, err)
		}
		quiet[sc] = n
	}
	for i, m := range []struct {
		w    *writer
		to   node
		name string
	}{{wa, b, "a"}, {wb, a, "b"}, {wa, b, "a"}} {
		m.w.exec(t, fmt.Sprintf("INSERT INTO t_awins VALUES (%d, 'quiet-%s', 0)", 1002+i, m.name))
		waitRow(t, withTable(m.to, "t_awins"), 1002+i)
	}
	for sc, grew := range map[string]uint64{"ab": 2, "ba": 1} {
		if n, err := streamCount(t, nc, sc); err != nil || n != quiet[sc]+grew {
			t.Errorf("stream %s grew from %d to %d messages (%v) over a quiet interval with %d marker(s) written at its source: it does not stop growing", sc, quiet[sc], n, err, grew)
		}
	}

	// Every conflict is on syncd.<scope>._conflict; the first phase's
	// are there with their kinds and outcomes.
	conflicts := readConflicts(t, nc)
	if len(conflicts) == 0 {
		t.Fatal("no conflicts recorded")
	}
	seen := map[string]bool{}
	concurrent := 0 // conflicts of the concurrent writes' rows
	for _, c := range conflicts {
		if strings.Contains(string(c.Source)+string(c.TargetRow), `"w`) {
			concurrent++
		}
		seen[fmt.Sprintf("%s %s %s %s %s", c.Target, c.Table[strings.IndexByte(c.Table, '.')+1:], c.Kind, c.Rule, c.Outcome)] = true
		if c.Kind != "delete_missing" && c.Kind != "update_missing" && len(c.TargetRow) == 0 {
			t.Errorf("conflict %s on %s without the target's row", c.Kind, c.Table)
		}
	}
	wantConflicts := []string{
		"tb t_awins update_differs source_wins source_applied",
		"ta t_awins update_differs target_wins target_kept",
		"ta t_awins update_missing target_wins target_kept",
		"tb t_awins delete_differs source_wins source_applied",
		"tb t_awins insert_exists source_wins source_applied",
		"ta t_newest update_differs newest_column source_applied",
		"tb t_newest update_differs newest_column target_kept",
		"tb t_newest delete_differs newest_column source_applied",
		"ta t_newest update_missing newest_column target_kept",
		"ta t_park insert_exists park parked",
		"tb t_park insert_exists park parked",
	}
	if newer {
		wantConflicts = append(wantConflicts,
			"ta t_newer update_differs newer_wins source_applied", // b's later update of 1 at a
			"tb t_newer update_differs newer_wins target_kept",
			"tb t_newer update_differs newer_wins source_applied", // a's later update of 3 at b
			"ta t_newer update_differs newer_wins target_kept",
			"ta t_newer insert_exists newer_wins source_applied",
			"tb t_newer insert_exists newer_wins target_kept",
			"tb t_newer delete_differs newer_wins source_applied",
			"ta t_newer update_missing newer_wins target_kept",
		)
	}
	for _, w := range wantConflicts {
		if !seen[w] {
			t.Errorf("no conflict %q recorded", w)
		}
	}
	if concurrent == 0 {
		t.Error("no conflict recorded of the concurrent writes")
	}
	t.Logf("%d conflicts recorded, %d of the concurrent writes", len(conflicts), concurrent)
}

// waitSaved waits until MySQL source has saved a binlog position to
// resume from.
func waitSaved(t *testing.T, d *testenv.Syncd, source string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		var doc struct {
			Sources []struct {
				Name   string `json:"name"`
				Status struct {
					Saved string `json:"saved"`
				} `json:"status"`
			} `json:"sources"`
		}
		if err := json.Unmarshal([]byte(get(t, d.AdminURL+"/scopes")), &doc); err != nil {
			return err
		}
		for _, s := range doc.Sources {
			if s.Name == source && s.Status.Saved != "" {
				return nil
			}
		}
		return fmt.Errorf("source %s has saved no position yet", source)
	})
}

// waitDumpGone waits, for a MariaDB node, until the server has let go of
// the binlog reader of a killed syncd (it notices when it next writes to
// it): syncd refuses to start while a replica with its server_id is
// listed.
func waitDumpGone(t *testing.T, n node) {
	t.Helper()
	if n.kind != "mysql" {
		return
	}
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() error {
		got, err := rowsText(n, "SELECT COUNT(*), '', 0 FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
		if err != nil {
			return err
		}
		if got != "0||0\n" {
			return fmt.Errorf("binlog readers: %q", got)
		}
		return nil
	})
}

// withTable returns n for waitRow on table tb.
func withTable(n node, tb string) node {
	n.table = tb
	return n
}

// rowsText returns the rows of query at n as text, "|" between values
// (NULL as empty), a line per row.
func rowsText(n node, query string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sql.Open(n.driver, n.dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var b strings.Builder
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('|')
			}
			b.WriteString(v.String)
		}
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}

// readConflicts returns every conflict on the conflicts stream.
func readConflicts(t *testing.T, nc *nats.Conn) []router.Conflict {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, router.ConflictStream)
	if err != nil {
		t.Fatalf("open stream %s: %v", router.ConflictStream, err)
	}
	total := s.CachedInfo().State.Msgs
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []router.Conflict
	for uint64(len(out)) < total {
		batch, err := cons.Fetch(int(total)-len(out), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			var c router.Conflict
			if err := json.Unmarshal(m.Data(), &c); err != nil {
				t.Fatalf("conflict message: %v", err)
			}
			if want := router.ReservedSubject(c.Scope, router.TokenConflict); m.Subject() != want {
				t.Errorf("conflict of scope %s on %s, want %s", c.Scope, m.Subject(), want)
			}
			out = append(out, c)
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
