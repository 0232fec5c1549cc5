package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// scopeScaling measures capture (PostgreSQL → JetStream) of one backlog
// of narrow rows with 1, 4 and 16 identical scopes over the table: one
// slot, each change published once per scope, each scope to its own
// stream. Every configuration has its own database and backlog. It
// returns rows/s per configuration and, for 4 and 16, rows/s and
// messages/s (rows × scopes) against the 1-scope rate of this run.
func scopeScaling(e *env, pg *testenv.Postgres, bin string, rows, txnRows int) []result {
	var results []result
	var one float64
	for _, n := range []int{1, 4, 16} {
		db := fmt.Sprintf("scopes%d", n)
		dsn := pg.CreateDB(e, db)
		pg.Exec(e, db, narrowTable)
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "source \"postgres\" %q { dsn = %q }\n", db, dsn)
		scopes := make([]string, n)
		for i := range scopes {
			scopes[i] = fmt.Sprintf("s%d", i+1)
			fmt.Fprintf(&cfg, "scope %q {\n  source = %q\n  snapshot = \"never\"\n  table \"public.narrow\" {}\n}\n", scopes[i], db)
		}
		elapsed, _ := backlogCapture(e, pg, bin, db, cfg.String(), scopes, rows, func() {
			log.Printf("scopes: %d scope(s), writing %d rows in transactions of %d", n, rows, txnRows)
			insertNarrow(e, dsn, rows, txnRows)
		})
		rate := float64(rows) / elapsed.Seconds()
		log.Printf("scopes: %d scope(s): %.0f rows/s, %.0f messages/s", n, rate, rate*float64(n))
		if n == 1 {
			one = rate
			results = append(results, result{Name: "capture rows/s, 1 scope", Value: rate, Unit: "rows/s"})
			continue
		}
		results = append(results,
			ratioResult(fmt.Sprintf("capture rows/s, %d scopes over the same table", n), "rows/s", rate, "rows/s, 1 scope", one, "", 0),
			ratioResult(fmt.Sprintf("capture messages/s, %d scopes (rows × %d)", n, n), "msg/s", rate*float64(n), "msg/s, 1 scope", one, "", 0))
	}
	return results
}

// rowWidths are the width run's text column sizes, each with its share
// of the width run's row count: wider rows, fewer of them.
var rowWidths = []struct {
	name  string
	bytes int
	share float64
}{
	{"100 B", 100, 1}, {"1 KB", 1_000, 0.5}, {"10 KB", 10_000, 0.1},
}

// rowWidth measures capture (PostgreSQL → JetStream) of a backlog of rows
// whose text column holds 100 B, 1 KB and 10 KB, stored uncompressed
// (STORAGE EXTERNAL), rows × the width's share of them. It returns rows/s
// and MB/s of column payload per width, against the 100 B figures.
func rowWidth(e *env, pg *testenv.Postgres, bin string, rows, txnRows int) []result {
	var results []result
	var baseRows, baseMB float64
	for i, w := range rowWidths {
		n := int(float64(rows) * w.share)
		db := fmt.Sprintf("width%d", w.bytes)
		dsn := pg.CreateDB(e, db)
		pg.Exec(e, db, `CREATE TABLE wide (id bigint PRIMARY KEY, v text NOT NULL)`,
			`ALTER TABLE wide ALTER COLUMN v SET STORAGE EXTERNAL`)
		cfg := fmt.Sprintf(`
source "postgres" %q { dsn = %q }
scope "wide" {
  source   = %q
  snapshot = "never"
  table "public.wide" {}
}`, db, dsn, db)
		elapsed, _ := backlogCapture(e, pg, bin, db, cfg, []string{"wide"}, n, func() {
			log.Printf("width: writing %d rows of %s in transactions of %d", n, w.name, txnRows)
			insertWide(e, dsn, n, txnRows, w.bytes)
		})
		rate := float64(n) / elapsed.Seconds()
		mb := rate * float64(w.bytes) / 1e6
		log.Printf("width: %s: %.0f rows/s, %.1f MB/s", w.name, rate, mb)
		rowsName := fmt.Sprintf("capture rows/s, %s rows (%d)", w.name, n)
		mbName := fmt.Sprintf("capture MB/s of column data, %s rows", w.name)
		if i == 0 {
			baseRows, baseMB = rate, mb
			results = append(results, result{Name: rowsName, Value: rate, Unit: "rows/s"}, result{Name: mbName, Value: mb, Unit: "MB/s"})
			continue
		}
		results = append(results,
			ratioResult(rowsName, "rows/s", rate, "rows/s, 100 B rows", baseRows, "", 0),
			ratioResult(mbName, "MB/s", mb, "MB/s, 100 B rows", baseMB, "", 0))
	}
	return results
}

// insertWide inserts rows 1..rows into wide in transactions of txnRows,
// each v exactly width bytes of ASCII.
func insertWide(e *env, dsn string, rows, txnRows, width int) {
	insertRange(e, dsn, rows, txnRows, `INSERT INTO wide SELECT g, rpad(md5(g::text), $3, md5(g::text)) FROM generate_series($1::bigint, $2::bigint) g`, width)
}

// backlogCapture times syncd publishing a backlog into JetStream. A first
// run of config creates the slot and publication of source db (named
// like its database) and is stopped; write then makes the backlog, and a
// second run is timed from its start until each of scopes' streams holds
// want messages. Afterwards the slot is dropped, so that it holds no WAL
// for later runs, and syncd's directory (its streams) removed. It also
// returns the CPU seconds syncd used in the second run.
func backlogCapture(e *env, pg *testenv.Postgres, bin, db, config string, scopes []string, want int, write func()) (time.Duration, float64) {
	d := testenv.NewSyncd(e, bin, config)
	d.Start()
	d.Stop()
	write()
	d.Start()
	log.Printf("%s: syncd ready after %v", db, time.Since(d.Started).Round(time.Millisecond))
	done := waitStreams(e, d, scopes, uint64(want), 15*time.Minute)
	cpu := d.CPUSeconds()
	d.Stop()
	dropSlot(e, pg.DSN(db), "syncd_"+db)
	if err := os.RemoveAll(d.Dir); err != nil {
		log.Printf("remove %s: %v", d.Dir, err)
	}
	return done.Sub(d.Started), cpu
}

// waitStreams waits until every scope's stream on syncd's embedded server
// holds want messages of the scope and returns when the last one did. It asks about one
// stream at a time, the first not yet seen full, so that polling a
// thousand streams (part spokes) does not load the server it measures.
func waitStreams(e *env, d *testenv.Syncd, scopes []string, want uint64, timeout time.Duration) time.Time {
	nc, err := nats.Connect(d.NATSURL)
	if err != nil {
		e.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	listed := make(map[string]bool, len(scopes))
	for _, sc := range scopes {
		listed[sc] = true
	}
	done := make(map[string]bool, len(scopes))
	for i := 0; i < len(scopes); {
		if done[scopes[i]] {
			i++
			continue
		}
		// A scope's stream is its own or one its template's spokes share:
		// found by subject, full when it holds want messages of each scope
		// of the list that it holds.
		name, err := js.StreamNameBySubject(ctx, router.ReservedSubject(scopes[i], router.TokenBatch))
		var s jetstream.Stream
		if err == nil {
			s, err = js.Stream(ctx, name)
		}
		if err == nil {
			var mine []string
			for _, subj := range s.CachedInfo().Config.Subjects {
				if sc, ok := strings.CutSuffix(strings.TrimPrefix(subj, router.SubjectPrefix+"."), "."+router.TokenBatch); ok && listed[sc] {
					mine = append(mine, sc)
				}
			}
			if s.CachedInfo().State.Msgs >= want*uint64(len(mine)) {
				for _, sc := range mine {
					done[sc] = true
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
			e.Fatalf("streams of %v did not reach %d messages in %v: %s", scopes[i:], want, timeout, d.Logs())
		case <-d.Exited():
			e.Fatalf("syncd exited: %s", d.Logs())
		case <-tick.C:
		}
	}
	return time.Now()
}

// dropSlot drops a replication slot of the cluster at dsn.
func dropSlot(e *env, dsn, slot string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		e.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot); err != nil {
		e.Fatalf("drop slot %s: %v", slot, err)
	}
}
