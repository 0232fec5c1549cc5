package router

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestParkNamesEachRow parks two rows of one packed message: both are
// stored. Parking one of them again, as a worker restarted from its
// checkpoint does, stores nothing more and is no error; another row under
// an id already taken is an error, not a row silently dropped.
func TestParkNamesEachRow(t *testing.T) {
	srv := testenv.StartNATS(t)
	conn := connect(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	row := func(n int, reason, envelope string) Parked {
		return Parked{Scope: "orders", Target: "replica", Reason: reason, StreamSeq: 7, Row: n,
			Message: json.RawMessage(envelope), ParkedAt: time.Now().UTC()}
	}
	park := func(p Parked) error {
		stored, err := conn.Park(ctx, p, StreamOptions{})
		if err == nil && stored == (p.Reason == "check violated again") {
			t.Errorf("Park(row %d, %q) stored = %v", p.Row, p.Reason, stored)
		}
		return err
	}

	if err := park(row(2, "check violated", `{"key":{"id":12}}`)); err != nil {
		t.Fatal(err)
	}
	if err := park(row(4, "check violated", `{"key":{"id":14}}`)); err != nil {
		t.Fatal(err)
	}
	// The replay: the same row, rejected again a moment later.
	if err := park(row(4, "check violated again", `{"key":{"id":14}}`)); err != nil {
		t.Errorf("parking row 4 again: %v; want it accepted as a replay", err)
	}
	// A collision: row 2's id, another envelope.
	if err := park(row(2, "check violated", `{"key":{"id":99}}`)); err == nil || !strings.Contains(err.Error(), "holds another row") {
		t.Errorf("parking another row as row 2: %v; want an error naming the collision", err)
	}

	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	dlq, err := js.Stream(ctx, DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for seq := uint64(1); seq <= dlq.CachedInfo().State.LastSeq; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var p Parked
		if err := json.Unmarshal(m.Data, &p); err != nil {
			t.Fatal(err)
		}
		got = append(got, string(p.Message))
	}
	if want := `{"key":{"id":12}} {"key":{"id":14}}`; strings.Join(got, " ") != want {
		t.Errorf("SYNCD_DLQ holds %q; want the two rows once each: %s", got, want)
	}
}
