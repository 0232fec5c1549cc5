// Command subscriber is an example downstream program: a durable JetStream
// consumer of one syncd scope that prints each row change and acknowledges
// it, resuming where it left off after a restart. It uses only nats.go and
// encoding/json, as a consumer in any language would.
//
//	go run ./examples/subscriber -nats nats://127.0.0.1:4222 -scope orders_eu
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// change is the part of syncd's message body this program uses; see
// docs/wire-format.md for all of it.
type change struct {
	Op        string                     `json:"op"`
	Key       map[string]json.RawMessage `json:"key"`
	After     map[string]json.RawMessage `json:"after"`
	Unchanged []string                   `json:"unchanged"`
	Scope     struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
	} `json:"scope"`
	Source struct {
		Schema string `json:"schema"`
		Table  string `json:"table"`
		Pos    string `json:"pos"`
	} `json:"source"`
	Txn struct {
		ID   string `json:"id"`
		Seq  int    `json:"seq"`
		Last bool   `json:"last"`
	} `json:"txn"`
}

func main() {
	url := flag.String("nats", nats.DefaultURL, "NATS server URL")
	scope := flag.String("scope", "", "scope to follow")
	name := flag.String("durable", "example-subscriber", "durable consumer name: progress is kept under it")
	flag.Parse()
	if *scope == "" {
		log.Fatal("give -scope")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *url, *scope, *name); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, url, scope, durable string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// A scope's stream is SYNCD_<SCOPE>, or the one the spokes of its
	// template share (SYNCD_<TEMPLATE>@<SOURCE>): find it by subject, as
	// every syncd stream lists syncd.<scope>._batch for each of its scopes.
	stream, err := js.StreamNameBySubject(ctx, "syncd."+scope+"._batch")
	if err != nil {
		return fmt.Errorf("find the stream of scope %s: %w", scope, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		FilterSubject: "syncd." + scope + ".*.>", // row changes only
	})
	if err != nil {
		return fmt.Errorf("create consumer on %s: %w", stream, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		// One change per message, or, from a scope with rows_per_message,
		// a JSON array of them (the Syncd-Rows header is then set).
		var cs []change
		var err error
		if m.Headers().Get("Syncd-Rows") != "" {
			err = json.Unmarshal(m.Data(), &cs)
		} else {
			cs = make([]change, 1)
			err = json.Unmarshal(m.Data(), &cs[0])
		}
		if err != nil {
			log.Printf("skipping a message I cannot read: %v", err)
			m.Term()
			return
		}
		// A repeat after a crash has the same Nats-Msg-Id; an idempotent
		// handler (upsert by key) makes it harmless.
		for _, c := range cs {
			fmt.Fprintf(os.Stdout, "%s %s.%s key=%s reason=%s txn=%s/%d last=%v unchanged=%v\n",
				c.Op, c.Source.Schema, c.Source.Table, raw(c.Key), c.Scope.Reason, c.Txn.ID, c.Txn.Seq, c.Txn.Last, c.Unchanged)
		}
		m.Ack()
	})
	if err != nil {
		return err
	}
	defer cc.Stop()
	<-ctx.Done()
	return nil
}

func raw(m map[string]json.RawMessage) string {
	b, _ := json.Marshal(m)
	return string(b)
}
