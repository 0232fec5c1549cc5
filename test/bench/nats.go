package main

import (
	"bytes"
	"context"
	"fmt"
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
	return natsAlone(e, rows, rowsPerMessage, 1<<30, false)
}

// natsSnapshotCeiling measures what JetStream alone takes on this machine
// for an initial snapshot's messages: natsCeiling's atomic batches of
// messages of 1,000 narrow rows (a snapshot transaction's packs, up to
// 512 KiB), stored with fsync and read back meanwhile by a pull consumer
// that acknowledges each message, as an apply worker does. It returns
// rows per second, from the first publish to the last message read.
func natsSnapshotCeiling(e *env, rows int) float64 {
	return natsAlone(e, rows, 1000, 512<<10, true)
}

// natsAlone publishes rows narrow rows, rowsPerMessage to a message of at
// most maxBytes (natsCeiling), and with consume also reads them back.
func natsAlone(e *env, rows, rowsPerMessage, maxBytes int, consume bool) float64 {
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
		// As a pack: as many rows as fit in maxBytes, at most rowsPerMessage.
		rowsPerMessage = min(rowsPerMessage, (maxBytes-1)/(len(ceilingRow)+1))
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
	read := make(chan error, 1)
	if consume {
		cons, err := js.CreateOrUpdateConsumer(ctx, "CEILING", jetstream.ConsumerConfig{Durable: "apply", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			e.Fatal(err)
		}
		go func() { read <- consumeAll(ctx, cons, messages) }()
	}
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
	what := "publishing"
	if consume {
		what = "publishing and consuming"
		if err := <-read; err != nil {
			e.Fatal(err)
		}
	}
	rate := float64(messages*rowsPerMessage) / time.Since(start).Seconds()
	log.Printf("nats: atomic batch %s alone, %d rows per message (%d bytes), %d messages per batch: %.0f rows/s", what, rowsPerMessage, len(body), batch, rate)
	return rate
}

// consumeAll reads n messages from cons in batches, acknowledging each,
// and returns once it has read them all.
func consumeAll(ctx context.Context, cons jetstream.Consumer, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for n > 0 {
		batch, err := cons.Fetch(min(n, 64), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("fetch from the ceiling stream: %w", err)
		}
		for m := range batch.Messages() {
			if err := m.Ack(); err != nil {
				return fmt.Errorf("acknowledge a ceiling message: %w", err)
			}
			n--
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("fetch from the ceiling stream: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consume the ceiling stream: %d messages left: %w", n, err)
		}
	}
	return nil
}

func checkAck(e *env, m *nats.Msg) {
	if bytes.Contains(m.Data, []byte(`"error"`)) {
		e.Fatalf("batch failed: %s", m.Data)
	}
}
