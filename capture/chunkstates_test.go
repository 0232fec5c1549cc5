package capture

import "testing"

func TestChunkStates(t *testing.T) {
	var c ChunkStates
	if _, _, _, ok := c.Durable(100, true); ok {
		t.Fatal("a state with no chunk sent")
	}
	c.Sent(10, []byte("a"), 1)
	c.Sent(20, []byte("b"), 2)
	c.Sent(30, []byte("c"), 3)
	if _, _, _, ok := c.Durable(10, false); ok {
		t.Fatal("chunk 10 durable when only its own Ack is")
	}
	if ack, st, rows, ok := c.Durable(25, false); !ok || ack != 20 || string(st) != "b" || rows != 2 {
		t.Fatalf("Durable(25) = %d %q %d %v, want the state after chunk 20", ack, st, rows, ok)
	}
	if ack, st, _, ok := c.Durable(0, true); !ok || ack != 30 || string(st) != "c" {
		t.Fatalf("Durable(idle) = %d %q %v, want the state after chunk 30", ack, st, ok)
	}
	if _, _, _, ok := c.Durable(100, true); ok {
		t.Fatal("a state recorded twice")
	}
}
