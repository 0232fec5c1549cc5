package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/test/testenv"
)

// explainStreamDiff runs when a backfill test failed: it names the keys
// of e.stream that the source and the PostgreSQL target disagree on, and
// for each the messages of the scope's stream that carry it, with the
// stream's order of positions, so that a lost row shows whether it was
// lost before the stream (never published) or after it (not applied).
func explainStreamDiff(t *testing.T, e backfillEngine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The keys of e.stream in db.
	ids := func(db *sql.DB) map[int64]bool {
		m := make(map[int64]bool)
		rows, err := db.QueryContext(ctx, `SELECT id FROM `+e.stream)
		if err != nil {
			t.Logf("diagnosis: %v", err)
			return m
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Logf("diagnosis: %v", err)
				return m
			}
			m[id] = true
		}
		return m
	}
	src, dst := ids(e.src), ids(testenv.OpenDB(t, "pgx", e.pgTarget))
	var missing, extra []int64
	for id := range src {
		if !dst[id] {
			missing = append(missing, id)
		}
	}
	for id := range dst {
		if !src[id] {
			extra = append(extra, id)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	t.Logf("diagnosis: %s: source %d rows, target %d; missing at the target %v, extra %v", e.stream, len(src), len(dst), missing, extra)
	var cp struct {
		pos   string
		seq   int64
		state string
	}
	if err := pgConnect(t, e.pgTarget).QueryRow(ctx, `SELECT last_position, last_stream_seq, backfill FROM syncd_scope_info WHERE scope = 's'`).Scan(&cp.pos, &cp.seq, &cp.state); err != nil {
		t.Logf("diagnosis: scope_info: %v", err)
	} else {
		t.Logf("diagnosis: target checkpoint at %s, stream seq %d, backfill %s", cp.pos, cp.seq, cp.state)
	}

	// Every message of the stream, in order.
	stream := openStream(t, e.d, "SYNCD_S")
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Logf("diagnosis: consume: %v", err)
		return
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Logf("diagnosis: stream info: %v", err)
		return
	}
	want := make(map[int64]bool)
	for _, id := range append(missing, extra...) {
		want[id] = true
	}
	type msg struct {
		seq         uint64
		subject, id string
		pos         capture.Position
		last        bool // its last row ends its transaction
		snapshot    bool
		commitTS    string
		rows        int
		txnSeq      int     // of its first row
		keys        []int64 // of the keys the two sides disagree on
	}
	var msgs []msg
	for len(msgs) == 0 || msgs[len(msgs)-1].seq < info.State.LastSeq {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Logf("diagnosis: read stream: %v", err)
			break
		}
		md, _ := m.Metadata()
		x := msg{seq: md.Sequence.Stream, subject: m.Subject(), id: m.Headers().Get(router.HeaderMsgID)}
		x.pos, _ = capture.ParsePosition(m.Headers().Get(router.HeaderPos))
		var rows []map[string]any
		if b := m.Data(); len(b) > 0 && b[0] == '[' {
			_ = json.Unmarshal(b, &rows)
		} else {
			var one map[string]any
			_ = json.Unmarshal(b, &one)
			rows = append(rows, one)
		}
		x.rows = len(rows)
		for i, r := range rows {
			txn, _ := r["txn"].(map[string]any)
			s, _ := r["source"].(map[string]any)
			if i == 0 {
				x.txnSeq = int(asFloat(txn["seq"]))
				x.snapshot, _ = s["snapshot"].(bool)
				x.commitTS, _ = s["commit_ts"].(string)
			}
			x.last, _ = txn["last"].(bool)
			if !strings.Contains(x.subject, "."+e.stream+".") {
				continue
			}
			for _, side := range []string{"after", "before", "key"} {
				if v, ok := r[side].(map[string]any); ok {
					if id := int64(asFloat(v["id"])); want[id] {
						x.keys = append(x.keys, id)
					}
				}
			}
		}
		msgs = append(msgs, x)
	}
	show := make(map[int]bool)
	for i, x := range msgs {
		if len(x.keys) > 0 {
			for j := max(0, i-4); j < min(len(msgs), i+5); j++ {
				show[j] = true
			}
		}
		if i > 0 && x.pos < msgs[i-1].pos {
			t.Logf("diagnosis: stream seq %d at position %s follows seq %d at %s: positions go back", x.seq, x.pos, msgs[i-1].seq, msgs[i-1].pos)
			show[i-1], show[i] = true, true
		}
	}
	t.Logf("diagnosis: stream %d messages read of %d", len(msgs), info.State.Msgs)
	for i, x := range msgs {
		if show[i] {
			t.Logf("diagnosis:   seq %d %s id %s pos %s rows %d txn.seq %d last %v snapshot %v commit %s keys %v",
				x.seq, x.subject, x.id, x.pos, x.rows, x.txnSeq, x.last, x.snapshot, x.commitTS, x.keys)
		}
	}
}

func asFloat(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case string:
		var f float64
		fmt.Sscan(v, &f)
		return f
	}
	return 0
}

// lateCommitsSetup makes the commits of sessions with synchronous_commit
// on wait for a synchronous standby that never answers, in the source
// database app, whose other sessions (syncd's) commit locally.
var lateCommitsSetup = []string{
	`ALTER SYSTEM SET synchronous_standby_names = 'nobody'`,
	`ALTER DATABASE app SET synchronous_commit = local`,
	`SELECT pg_reload_conf()`,
}

// lateCommits, until ctx is done, releases every few milliseconds the
// commits of database db that wait for the synchronous standby (see
// lateCommitsSetup): each is in the WAL, and streamed, a few
// milliseconds before it is visible to other transactions, as a commit
// is for a moment on a loaded machine. That widens the window in which a
// backfill's chunk reads without a change the log has already passed.
func lateCommits(ctx context.Context, src *sql.DB, db string) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := src.ExecContext(ctx, `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND datname = $1`, db)
		if err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			// Release what still waits.
			_, err := src.ExecContext(context.Background(), `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND datname = $1`, db)
			return err
		case <-tick.C:
		}
	}
}

// canceled reports whether err is a statement cancelled by lateCommits
// before its commit: it did nothing.
func canceled(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "57014"
}
