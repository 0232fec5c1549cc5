package torture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/router"
)

// converge waits until every target table holds its expected rows, every
// scope_info row has reached the end of its scope's stream, and the
// subscriber has processed every stream to its end. It returns the last
// unmet condition if that does not happen within timeout.
func converge(t seeded, c *cluster, sub *subscriber, timeout time.Duration) error {
	t.Helper()
	nc := connectNATS(t, c)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start, lastLog := time.Now(), time.Now()
	for {
		err := converged(c, sub, nc)
		if err == nil {
			return nil
		}
		if time.Since(lastLog) >= 5*time.Second {
			t.Logf("converging for %v: %v; %s", time.Since(start).Round(time.Second), err, progress(c, sub, nc))
			lastLog = time.Now()
		}
		select {
		case <-deadline.C:
			return err
		case <-tick.C:
		}
	}
}

func converged(c *cluster, sub *subscriber, nc *nats.Conn) error {
	for _, e := range expectations {
		n1, s1, err := checksum(c.src.DSN("app"), e.source)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		n2, s2, err := checksum(c.dstDSN[e.target], e.dest)
		if err != nil {
			return fmt.Errorf("target %s: %w", e.target, err)
		}
		if n1 != n2 || s1 != s2 {
			return fmt.Errorf("scope %s at target %s: %s: source %d rows (%s), target %d rows (%s)", e.scope, e.target, e.dest, n1, s1, n2, s2)
		}
	}
	for _, scope := range scopeNames {
		last, err := streamLast(nc, scope)
		if err != nil {
			return err
		}
		st := sub.scopes[scope].status()
		if st.processed != last || st.pending != 0 {
			return fmt.Errorf("subscriber of %s processed stream messages 1..%d (%d ahead), stream ends at %d", scope, st.processed, st.pending, last)
		}
	}
	for _, target := range slices.Sorted(maps.Keys(scopeInfoTables)) {
		for _, scope := range scopeInfoTables[target].scopes {
			info, err := readScopeInfo(c.dstDSN[target], scopeInfoTables[target].table, scope)
			if err != nil {
				return err
			}
			last, _ := streamLast(nc, scope)
			if info.lastStreamSeq != last {
				return fmt.Errorf("scope_info of %s at %s: last_stream_seq %d, stream ends at %d", scope, target, info.lastStreamSeq, last)
			}
		}
	}
	return nil
}

// progress describes how far each scope's stream, subscriber and targets
// have come.
func progress(c *cluster, sub *subscriber, nc *nats.Conn) string {
	var b strings.Builder
	for _, scope := range scopeNames {
		last, err := streamLast(nc, scope)
		fmt.Fprintf(&b, "%s: stream %d (%v), subscriber %d", scope, last, err, sub.scopes[scope].status().processed)
		for _, target := range slices.Sorted(maps.Keys(scopeInfoTables)) {
			if slices.Contains(scopeInfoTables[target].scopes, scope) {
				info, err := readScopeInfo(c.dstDSN[target], scopeInfoTables[target].table, scope)
				fmt.Fprintf(&b, ", %s %d (%v)", target, info.lastStreamSeq, err)
			}
		}
		b.WriteString("; ")
	}
	return b.String()
}

// verify checks, once converged, what convergence does not imply: the
// subscriber saw every change, whole, in order and never stored twice
// (its model equals the source), the scope_info rows are complete, and
// syncd is ready and healthy.
func verify(t seeded, c *cluster, sub *subscriber) {
	t.Helper()
	nc := connectNATS(t, c)
	for _, e := range expectations {
		if diff := diffRows(c.src.DSN("app"), e.source, c.dstDSN[e.target], e.dest); diff != "" {
			t.Errorf("scope %s at target %s differs from the source in %s:\n%s", e.scope, e.target, e.dest, diff)
		}
	}
	for _, scope := range scopeNames {
		st := sub.scopes[scope].status()
		t.Logf("subscriber %s: %d messages, %d row changes in %d transactions (%d changes of cut snapshots discarded), %d deliveries (%d again), ends at %s",
			scope, st.processed, st.rows, st.txns, st.abandoned, st.deliveries, st.redeliveries, st.lastPos)
		if st.nProblems > 0 {
			t.Errorf("subscriber of %s found %d problems, first:\n  %s", scope, st.nProblems, strings.Join(st.problems, "\n  "))
		}
		if !st.lastDone {
			t.Errorf("stream of %s ends inside a transaction at %s", scope, st.lastPos)
		}
	}
	for _, mc := range modelChecks {
		if err := compareModel(c.src.DSN("app"), sub.scopes[mc.scope].model, mc); err != nil {
			t.Errorf("subscriber's replay of scope %s, table %s, differs from the source: %v", mc.scope, mc.table, err)
		}
	}
	for _, target := range slices.Sorted(maps.Keys(scopeInfoTables)) {
		for _, scope := range scopeInfoTables[target].scopes {
			info, err := readScopeInfo(c.dstDSN[target], scopeInfoTables[target].table, scope)
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			st := sub.scopes[scope].status()
			last, _ := streamLast(nc, scope)
			t.Logf("scope_info %s at %s: %+v", scope, target, info)
			switch {
			case info.source != "app":
				t.Errorf("scope_info of %s at %s: source %q, want app", scope, target, info.source)
			case info.position != st.lastPos:
				t.Errorf("scope_info of %s at %s: last_position %s, the stream's last transaction is at %s", scope, target, info.position, st.lastPos)
			case info.lastStreamSeq != last:
				t.Errorf("scope_info of %s at %s: last_stream_seq %d, the stream ends at %d", scope, target, info.lastStreamSeq, last)
			case info.rowsApplied != int64(st.rows)-int64(st.abandoned):
				// Every row change of the stream (a message, or a row of a
				// snapshot's packed message; a truncate counts as one) is
				// applied exactly once unless it belongs to a cut
				// snapshot, and the counter commits with the rows: more
				// means a change was applied twice.
				t.Errorf("scope_info of %s at %s: rows_applied %d, the stream holds %d changes, %d of them in cut snapshots", scope, target, info.rowsApplied, st.rows, st.abandoned)
			case info.syncdVersion == "", !info.hasDefinition, !info.hasSchema, info.version < 1:
				t.Errorf("scope_info of %s at %s is incomplete: %+v", scope, target, info)
			}
		}
	}
	if n, err := streamMsgs(nc, "SYNCD_DLQ"); err == nil && n > 0 {
		t.Errorf("%d rows were parked on the DLQ stream", n)
	}
	resp, err := http.Get(c.d.AdminURL + "/readyz")
	if err != nil {
		t.Errorf("/readyz: %v", err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/readyz answers %d after convergence: %s", resp.StatusCode, body)
		}
	}
	if logs := c.d.Logs(); strings.Contains(logs, "panic:") || strings.Contains(logs, "DATA RACE") {
		t.Errorf("syncd's log shows a panic or a data race")
	}
}

func connectNATS(t seeded, c *cluster) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(c.nats.URL, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// streamLast returns the sequence of a scope's last message in its
// stream (its own, or one its template's spokes share).
func streamLast(nc *nats.Conn, scope string) (uint64, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name, err := js.StreamNameBySubject(ctx, router.ReservedSubject(scope, router.TokenBatch))
	if err != nil {
		return 0, fmt.Errorf("stream of %s: %w", scope, err)
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("stream of %s: %w", scope, err)
	}
	if name == router.StreamName(scope) {
		return s.CachedInfo().State.LastSeq, nil
	}
	m, err := s.GetLastMsgForSubject(ctx, router.RowSubjects(scope))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stream of %s: %w", scope, err)
	}
	return m.Sequence, nil
}

func streamMsgs(nc *nats.Conn, stream string) (uint64, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.Msgs, nil
}

// diffRows returns the rows only one of the two queries returns, at most
// ten of each, or "" if they return the same rows.
func diffRows(srcDSN, srcQuery, dstDSN, dstQuery string) string {
	src, err := rowTexts(srcDSN, srcQuery)
	if err != nil {
		return "source: " + err.Error()
	}
	dst, err := rowTexts(dstDSN, dstQuery)
	if err != nil {
		return "target: " + err.Error()
	}
	var b strings.Builder
	for _, side := range []struct {
		name     string
		have, in map[string]bool
	}{{"only at the source", src, dst}, {"only at the target", dst, src}} {
		var only []string
		for r := range side.have {
			if !side.in[r] {
				only = append(only, r)
			}
		}
		slices.Sort(only)
		if len(only) > 0 {
			fmt.Fprintf(&b, "  %d rows %s, first: %s\n", len(only), side.name, strings.Join(only[:min(len(only), 10)], " "))
		}
	}
	return b.String()
}

func rowTexts(dsn, query string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT q::text FROM ("+query+") q")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out[s] = true
	}
	return out, rows.Err()
}

// checksum returns the row count and an md5 of the rows of query, which
// must order its rows.
func checksum(dsn, query string) (int64, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close(context.Background())
	var n int64
	var sum string
	err = conn.QueryRow(ctx, "SELECT count(*), coalesce(md5(string_agg(q::text, '|')), '') FROM ("+query+") q").Scan(&n, &sum)
	return n, sum, err
}

type scopeInfo struct {
	source        string
	version       int
	hasDefinition bool
	hasSchema     bool
	position      capture.Position
	lastStreamSeq uint64
	rowsApplied   int64
	syncdVersion  string
}

func readScopeInfo(dsn, table, scope string) (scopeInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return scopeInfo{}, err
	}
	defer conn.Close(context.Background())
	var info scopeInfo
	var pos string
	var seq int64
	err = conn.QueryRow(ctx, `SELECT source, scope_version, definition IS NOT NULL, column_schema IS NOT NULL,
		last_position, last_stream_seq, rows_applied, syncd_version
		FROM `+pgx.Identifier(strings.Split(table, ".")).Sanitize()+` WHERE scope = $1`, scope).
		Scan(&info.source, &info.version, &info.hasDefinition, &info.hasSchema, &pos, &seq, &info.rowsApplied, &info.syncdVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return info, fmt.Errorf("no scope_info row for scope %s in %s", scope, table)
	}
	if err != nil {
		return info, fmt.Errorf("read scope_info of %s from %s: %w", scope, table, err)
	}
	info.lastStreamSeq = uint64(seq)
	info.position, err = capture.ParsePosition(pos)
	return info, err
}
