package main

import (
	"bytes"
	"context"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/syncd-dev/syncd/test/testenv"
)

// ceilingRow is the envelope of one narrow row as syncd publishes it.
const ceilingRow = `{"op":"c","key":{"id":"1"},"before":null,"after":{"id":"1","n":1,"v":"c4ca4238a0b923820dcc509a6f75849b"},"scope":{"name":"all","version":1,"reason":"change"},"source":{"kind":"postgres","name":"app","db":"capture","schema":"public","table":"narrow","pos":"0/16B3748","commit_ts":"2026-03-01T10:00:00.123456Z","snapshot":false},"txn":{"id":"771","seq":3,"last":false},"ts_ms":1772359200130}`

// natsCeiling measures what JetStream alone takes on this machine: atomic
// batches of syncd's size (1,000 messages or 4 MiB of bodies, whichever
// comes first), of messages with syncd's headers and bodies of syncd's
// size for narrow rows, rowsPerMessage to a message, 4 batches in flight,
// into a server that fsyncs every write. It shows how much of syncd's
// capture rate the NATS server itself bounds. It returns rows per second
// (messages per second times rowsPerMessage).
func natsCeiling(e *env, rows, rowsPerMessage int) float64 {
	srv := testenv.StartNATS(e)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		e.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CEILING", Subjects: []string{"c.>"}, AllowAtomicPublish: true, Duplicates: 2 * time.Minute}); err != nil {
		e.Fatal(err)
	}
	body := []byte(ceilingRow)
	if rowsPerMessage > 1 {
		body = []byte("[" + strings.Repeat(ceilingRow+",", rowsPerMessage-1) + ceilingRow + "]")
	}
	batch := min(1000, max(1, (4<<20)/len(body)))
	inbox := nats.NewInbox()
	acks := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(inbox+".*", acks)
	if err != nil {
		e.Fatal(err)
	}
	defer sub.Unsubscribe()
	const window = 4
	messages := (rows + rowsPerMessage - 1) / rowsPerMessage
	start := time.Now()
	inflight := 0
	for b := 0; b*batch < messages; b++ {
		if inflight == window {
			checkAck(e, <-acks)
			inflight--
		}
		id := nuid.Next()
		n := min(batch, messages-b*batch)
		for i := 1; i <= n; i++ {
			m := &nats.Msg{Subject: "c.all.app.public.narrow.c", Data: body, Header: nats.Header{
				"Nats-Msg-Id":         {"all:app:0/" + strconv.Itoa(b) + ":" + strconv.Itoa(i)},
				"Syncd-Op":            {"c"},
				"Syncd-Txn":           {"771"},
				"Syncd-Pos":           {"0/16B3748"},
				"Content-Type":        {"application/json"},
				"Nats-Batch-Id":       {id},
				"Nats-Batch-Sequence": {strconv.Itoa(i)},
			}}
			if rowsPerMessage > 1 {
				m.Header["Syncd-Rows"] = []string{strconv.Itoa(rowsPerMessage)}
			}
			if err := nc.PublishMsg(m); err != nil {
				e.Fatal(err)
			}
		}
		eob := &nats.Msg{Subject: "c.all._batch", Reply: inbox + "." + strconv.Itoa(b), Header: nats.Header{
			"Nats-Batch-Id": {id}, "Nats-Batch-Sequence": {strconv.Itoa(n + 1)}, "Nats-Batch-Commit": {"eob"},
		}}
		if err := nc.PublishMsg(eob); err != nil {
			e.Fatal(err)
		}
		inflight++
	}
	for ; inflight > 0; inflight-- {
		checkAck(e, <-acks)
	}
	rate := float64(messages*rowsPerMessage) / time.Since(start).Seconds()
	log.Printf("nats: atomic batch publishing alone, %d rows per message (%d bytes), %d messages per batch: %.0f rows/s", rowsPerMessage, len(body), batch, rate)
	return rate
}

func checkAck(e *env, m *nats.Msg) {
	if bytes.Contains(m.Data, []byte(`"error"`)) {
		e.Fatalf("batch failed: %s", m.Data)
	}
}
