package apply

import "testing"

// TestCommits checks that Next's channel closes at the next commit of its
// (scope, target) only, and that a nil Commits tells nothing.
func TestCommits(t *testing.T) {
	c := NewCommits()
	products, other := c.Next("products", "replica"), c.Next("products", "archive")
	c.committed("products", "replica")
	select {
	case <-products:
	default:
		t.Fatal("a commit of products at replica did not close its channel")
	}
	select {
	case <-other:
		t.Fatal("a commit at replica closed the channel of archive")
	default:
	}
	if next := c.Next("products", "replica"); next == products {
		t.Fatal("Next after a commit returned the closed channel")
	}
	var none *Commits
	none.committed("products", "replica")
	if none.Next("products", "replica") != nil {
		t.Fatal("a nil Commits returned a channel")
	}
}
