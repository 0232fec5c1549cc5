package router

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// storedPacks returns the stream's messages, each as its rows' (id, seq,
// last) triples joined by "+", and each message's Syncd-Op, Syncd-Rows
// and the seq its Nats-Msg-Id names.
func storedPacks(t *testing.T, conn *Conn, scope string) (msgs, heads []string) {
	t.Helper()
	for _, m := range streamMsgs(t, conn.nc, scope) {
		if !IsPack(m.Data) {
			t.Fatalf("message %d is not an array: %s", m.Sequence, m.Data)
		}
		rows, err := DecodeRows(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, e := range rows {
			parts = append(parts, fmt.Sprintf("%s/%d/%v", e.After["id"], e.Txn.Seq, e.Txn.Last))
		}
		msgs = append(msgs, strings.Join(parts, "+"))
		id := m.Header.Get(HeaderMsgID)
		heads = append(heads, fmt.Sprintf("%s %s %s", m.Header.Get(HeaderOp), m.Header.Get(HeaderRows), id[strings.LastIndexByte(id, ':')+1:]))
	}
	return msgs, heads
}

// packConfig is one scope "s" over public.product with rows_per_message n.
func packConfig(t *testing.T, n int) *scopes.Config {
	t.Helper()
	return loadConfig(t, fmt.Sprintf(`
source "postgres" "app" { dsn = "postgres://localhost/app" }
scope "s" {
  source           = "app"
  snapshot         = "never"
  rows_per_message = %d
  table "public.product" {}
}`, n))
}

// TestRouterPacksRows checks rows_per_message: a message takes the
// following rows of its transaction with the same table and op until it
// is full, its id names its last row, and a router that replays from an
// earlier position resumes after the last row stored, inside a message.
func TestRouterPacksRows(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	cfg := packConfig(t, 3)
	ctx := context.Background()
	r1 := newRouter(t, conn, cfg, 10)
	f := &feeder{t: t, r: r1}
	f.txn(5, true) // ids 1-5

	// Inserts of 6 and 7, an update of 6, an insert of 8.
	f.pos += 100
	mixed := &capture.Txn{ID: fmt.Sprint(f.pos), Pos: f.pos, Ack: f.pos + 10, CommitTime: time.Now()}
	must(t, r1.Begin(ctx, mixed))
	row := func(id int32, name string) capture.Row { return capture.Row{id, name, capture.Decimal("1"), nil} }
	for _, ev := range []*capture.Event{
		{Txn: mixed, Table: productTable, Op: capture.OpInsert, After: row(6, "n")},
		{Txn: mixed, Table: productTable, Op: capture.OpInsert, After: row(7, "n")},
		{Txn: mixed, Table: productTable, Op: capture.OpUpdate, Before: row(6, "n"), After: row(6, "m")},
		{Txn: mixed, Table: productTable, Op: capture.OpInsert, After: row(8, "n")},
	} {
		must(t, r1.Change(ctx, ev))
	}
	must(t, r1.Commit(ctx, mixed))
	f.nextID = 8
	f.txn(4, false) // ids 9-12, no commit: 9-11 fill a message, 12 is held
	must(t, r1.Flush(ctx))
	drain(t, r1)
	r1.Close()

	r2 := newRouter(t, conn, cfg, 10)
	f.replay(r2, mixed.Pos, 8)
	f.txn(4, true) // ids 9-12: 9-11 stored, 12 is new
	last := f.txn(1, true)
	drainDurable(t, r2, last)

	msgs, heads := storedPacks(t, conn, "s")
	wantMsgs := []string{
		"1/1/false+2/2/false+3/3/false", "4/4/false+5/5/true",
		"6/1/false+7/2/false", "6/3/false", "8/4/true",
		"9/1/false+10/2/false+11/3/false", "12/4/true",
		"13/1/true",
	}
	wantHeads := []string{"c 3 3", "c 2 5", "c 2 2", "u 1 3", "c 1 4", "c 3 3", "c 1 4", "c 1 1"}
	if strings.Join(msgs, " ") != strings.Join(wantMsgs, " ") {
		t.Errorf("stream holds\n%v\nwant\n%v", msgs, wantMsgs)
	}
	if strings.Join(heads, ", ") != strings.Join(wantHeads, ", ") {
		t.Errorf("headers (op, rows, id seq)\n%v\nwant\n%v", heads, wantHeads)
	}
}

// TestRouterPacksByBytes checks that a row joins a message only if the
// message stays within maxPackBytes, and that a larger row goes alone.
func TestRouterPacksByBytes(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	cfg := packConfig(t, 100)
	ctx := context.Background()
	r := newRouter(t, conn, cfg, 10)
	txn := &capture.Txn{ID: "1", Pos: 100, Ack: 110, CommitTime: time.Now()}
	must(t, r.Begin(ctx, txn))
	big, huge := strings.Repeat("b", maxPackBytes*3/4), strings.Repeat("h", maxPackBytes*3/2)
	for i, name := range []string{"s", "s", big, big, "s", huge, "s"} {
		ev := &capture.Event{Txn: txn, Table: productTable, Op: capture.OpInsert, After: capture.Row{int32(i + 1), name, capture.Decimal("1"), nil}}
		must(t, r.Change(ctx, ev))
	}
	must(t, r.Commit(ctx, txn))
	drain(t, r)

	msgs, _ := storedPacks(t, conn, "s")
	want := []string{"1/1/false+2/2/false+3/3/false", "4/4/false+5/5/false", "6/6/false", "7/7/true"}
	if strings.Join(msgs, " ") != strings.Join(want, " ") {
		t.Errorf("stream holds\n%v\nwant\n%v", msgs, want)
	}
}
