package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestSwitchPointPostgres changes scope "items" twice while a writer
// moves rows in and out of its filters: widened by a restart after a
// backlog written while syncd was down, then narrowed by SIGHUP. The
// first time syncd is killed (SIGKILL) as soon as the switch point is
// written, the second as soon as it is recorded, before the slot's
// checkpoint passes it (the diff's chunks hold it back; logged), and
// started again. Every live change in the stream carries the version in
// effect at its position (the old one before the recorded switch point,
// the new one from it on) and is routed by that version's filter, and
// the target ends equal to the source under the newest definition.
func TestSwitchPointPostgres(t *testing.T) {
	r := newReplication(t, func(r *replication) {
		// Enough rows that a diff takes a few chunks, during which the
		// slot's confirmed position stays before the switch point.
		r.src.Exec(t, "app", itemDDL, itemRows("generate_series(1, 50000) g"))
	}, "")
	src, err := sql.Open("pgx", r.srcDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	runSwitchPoints(t, &changeRig{
		d: r.d, body: readFile(t, r.d.ConfigPath) + "%s\n", table: "public.item", src: src,
		upsert: `INSERT INTO item (id, price, grp, note) VALUES ($1, $2, $3, 'live') ON CONFLICT (id) DO UPDATE SET price = EXCLUDED.price, grp = EXCLUDED.grp`,
		del:    `DELETE FROM item WHERE id = $1`, source: "app", targets: `["replica"]`,
		waitSame: func(srcQuery, dstQuery string) {
			waitIdentical(t, r, time.Minute, []string{srcQuery}, []string{dstQuery})
		},
	}, func() string {
		var confirmed string
		if err := src.QueryRow(`SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'syncd_app'`).Scan(&confirmed); err != nil {
			t.Fatal(err)
		}
		return confirmed
	})
	// The target's scope_info row holds the version of the last
	// transaction applied, which is after the last switch point.
	n, _, err := checksum(t, r.dstDSN, `SELECT 1 FROM syncd_scope_info WHERE scope = 'items' AND scope_version = 3`)
	if err != nil || n != 1 {
		t.Fatalf("scope_info of scope items at version 3: %d rows, %v", n, err)
	}
}

// TestSwitchPointMariaDB is TestSwitchPointPostgres on a MariaDB source,
// whose switch points are rows of the signal table.
func TestSwitchPointMariaDB(t *testing.T) {
	c := newCrossEngine(t, "shop", func(c *crossEngine) {
		c.src.Exec(t, "shop", itemDDL, itemRows("(SELECT seq AS g FROM seq_1_to_50000) s"))
	}, "")
	src, err := sql.Open("mysql", c.srcDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	runSwitchPoints(t, &changeRig{
		d: c.d, body: readFile(t, c.d.ConfigPath) + "%s\n", table: "shop.item", src: src,
		upsert: `INSERT INTO item (id, price, grp, note) VALUES (?, ?, ?, 'live') ON DUPLICATE KEY UPDATE price = VALUES(price), grp = VALUES(grp)`,
		del:    `DELETE FROM item WHERE id = ?`, source: "shop", targets: `["copy", "pgcopy"]`,
		waitSame: func(srcQuery, dstQuery string) {
			testenv.Eventually(t, time.Minute, time.Second, func() error { return c.sameRows(srcQuery, dstQuery) })
		},
	}, nil)
}

// runSwitchPoints runs a switch point test on rig; confirmed, if not nil,
// returns the source's checkpoint, to log.
func runSwitchPoints(t *testing.T, rig *changeRig, confirmed func() string) {
	t.Helper()
	d, src := rig.d, rig.src
	configure := func(s scopeStep) {
		writeFile(t, d.ConfigPath, strings.Replace(rig.body, "%s", fmt.Sprintf(s.config(rig.table), rig.source, rig.targets), 1))
	}
	same := func(s scopeStep) {
		cols := strings.Join(s.columns, ", ")
		rig.waitSame(fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY id", cols, rig.table, s.filterSQL()),
			fmt.Sprintf("SELECT %s FROM %s ORDER BY id", cols, rig.table))
	}
	configure(initial)
	d.Start()
	same(initial)
	nc := connect(t, d)
	steps := []scopeStep{initial}
	var switches []capture.Position // of versions 2, 3, ...

	// switched waits until version's switch point is recorded, and kills
	// syncd then if kill.
	switched := func(version int, kill bool) {
		t.Helper()
		testenv.Eventually(t, time.Minute, 2*time.Millisecond, func() error {
			at, err := switchPoint(nc, version)
			if err == nil {
				switches = append(switches, at)
			}
			return err
		})
		if !kill {
			return
		}
		d.Kill()
		if confirmed != nil {
			t.Logf("version %d switched at %s; killed with the source confirmed to %s", version, switches[len(switches)-1], confirmed())
		}
	}

	// Widened by a restart, killed as soon as the switch point is
	// written: the backlog written while syncd was down lies before it,
	// is read again after the restart, and goes out by the initial filter.
	stop := startWriter(t, rig)
	d.Kill()
	for id := 1001; id <= 1020; id++ {
		if _, err := src.Exec(rig.upsert, id, 600, 1+id%2); err != nil {
			t.Fatal(err)
		}
	}
	configure(widened)
	written := strings.Count(d.Logs(), "switch point written")
	d.StartAlive()
	testenv.Eventually(t, time.Minute, 2*time.Millisecond, func() error {
		if strings.Count(d.Logs(), "switch point written") == written {
			return errors.New("no switch point written yet")
		}
		return nil
	})
	d.Kill()
	d.Start()
	switched(2, false)
	steps = append(steps, widened)

	// Narrowed by SIGHUP, killed as soon as the switch point is recorded.
	configure(narrowed)
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	switched(3, true)
	steps = append(steps, narrowed)
	d.Start()
	stop()
	same(narrowed)

	var before, after int // live changes right before and from a switch point
	for _, m := range readRows(t, nc, "items") {
		env := m.Env
		if env.Source.Snapshot {
			continue
		}
		want := 1
		for i, at := range switches {
			if env.Source.Pos >= at {
				want = i + 2
			}
		}
		if env.Scope.Version != want {
			t.Fatalf("%s %s at %s has scope version %d, want %d (switch points %v)", env.Op, env.Scope.Reason, env.Source.Pos, env.Scope.Version, want, switches)
		}
		if env.Op == "c" || env.Op == "u" {
			price, _ := strconv.Atoi(fmt.Sprint(env.After["price"]))
			var grp *int
			if g, err := strconv.Atoi(fmt.Sprint(env.After["grp"])); err == nil {
				grp = &g
			}
			if !steps[want-1].admits(price, grp) {
				t.Fatalf("%s at %s of version %d holds row %v, which the %s filter does not admit", env.Op, env.Source.Pos, want, env.After, steps[want-1].name)
			}
		}
		for _, at := range switches {
			switch {
			case env.Source.Pos < at && env.Source.Pos+1<<20 > at:
				before++
			case env.Source.Pos >= at && env.Source.Pos < at+1<<20:
				after++
			}
		}
	}
	t.Logf("%d live changes within 1 MiB of log before a switch point, %d after", before, after)
	if before == 0 || after == 0 {
		t.Fatalf("no live changes near the switch points (%d before, %d after): the test proves nothing", before, after)
	}
}

// switchPoint returns where version of scope items took effect, as
// recorded in router.ScopeBucket.
func switchPoint(nc *nats.Conn, version int) (capture.Position, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, router.ScopeBucket)
	if err != nil {
		return 0, err
	}
	e, err := kv.Get(ctx, "items")
	if err != nil {
		return 0, err
	}
	var rec router.ScopeRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return 0, err
	}
	if rec.Version != version || rec.Pending || rec.Switch == nil {
		return 0, errors.New("version " + strconv.Itoa(version) + "'s switch point is not recorded: " + string(e.Value()))
	}
	return *rec.Switch, nil
}
