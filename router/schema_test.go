package router

import (
	"context"
	"fmt"
	"testing"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestSchemaKeepsOldColumns: when a table's columns change at the source
// (notes renamed to memo), the recorded schema gains the new column and
// keeps the old one, which messages published before the change carry
// and an apply worker that reads them later must know.
func TestSchemaKeepsOldColumns(t *testing.T) {
	conn := connect(t, testenv.StartNATS(t).URL)
	r := newRouter(t, conn, testConfig(t), 1000)
	f := &feeder{t: t, r: r}
	f.txn(1, true)
	renamed := *productTable
	renamed.Columns = append(renamed.Columns[:3:3], capture.Column{Name: "memo", Type: "text"})
	ctx := context.Background()
	txn := &capture.Txn{ID: "1000", Pos: 1000, Ack: 1010}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.Begin(ctx, txn))
	must(r.Change(ctx, &capture.Event{Txn: txn, Table: &renamed, Op: capture.OpInsert, After: capture.Row{int32(2), "n", capture.Decimal("1"), "m"}}))
	must(r.Commit(ctx, txn))
	drain(t, r)

	schemas, err := conn.TableSchemas(ctx, "s")
	must(err)
	ts := schemas[productTable.ID()]
	if ts == nil {
		t.Fatalf("no schema recorded for %s: %v", productTable.ID(), schemas)
	}
	if got, want := fmt.Sprint(ts.Columns), "[{id integer} {name text} {price numeric} {memo text} {notes text}]"; got != want {
		t.Fatalf("recorded columns %s, want %s", got, want)
	}
}
