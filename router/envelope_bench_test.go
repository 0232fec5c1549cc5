package router

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// benchPack is a message of 100 inserts into the bench's narrow table
// (id bigint, n int, v text holding an md5), as a packed scope sends it.
func benchPack(b *testing.B) []byte {
	b.Helper()
	tb := &capture.Table{Schema: "public", Name: "narrow",
		Columns: []capture.Column{{Name: "id", Type: "bigint"}, {Name: "n", Type: "integer"}, {Name: "v", Type: "text"}},
		Key:     []int{0}}
	st := &scopes.Table{Scope: &scopes.Scope{Name: "narrow"}, ID: tb.ID(), Target: tb.ID()}
	p, err := newPlan(nil, st, tb, SourceInfo{Kind: "postgres", Name: "e2e", DB: "e2e"}, 1, NewMetrics(nil))
	if err != nil {
		b.Fatal(err)
	}
	txn := &capture.Txn{ID: "771", Pos: 0x16B3748, CommitTime: time.Unix(1772359200, 123456000).UTC()}
	body := []byte{'['}
	for i := range 100 {
		sum := md5.Sum([]byte(strconv.Itoa(i)))
		row := capture.Row{int64(i + 1), int32(i % 1000), hex.EncodeToString(sum[:])}
		m := message{plan: p, op: capture.OpInsert, reason: ReasonChange, ev: &capture.Event{Txn: txn, Table: tb, Op: capture.OpInsert},
			key: row, after: row, seq: i + 1}
		if i > 0 {
			body = append(body, ',')
		}
		body, _ = appendBody(body, &m, testNow)
	}
	return append(body, ']')
}

func BenchmarkDecodeRows(b *testing.B) {
	data := benchPack(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rows, err := DecodeRows(data)
		if err != nil || len(rows) != 100 {
			b.Fatal(len(rows), err)
		}
	}
}
