package capture

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// keysOf returns n one-column keys, the key of row i being f(i).
func keysOf(n int, f func(i int) []string) [][]string {
	keys := make([][]string, n)
	for i := range keys {
		keys[i] = f(i)
	}
	return keys
}

// TestSplitChunk: the ranges cover the chunk's keys exactly, in order,
// each starting after the last key of the one before, with rows split
// evenly whatever the keys' values (skewed, composite, text), and no
// more ranges than MinRangeRows allows.
func TestSplitChunk(t *testing.T) {
	num := func(i int) []string { return []string{fmt.Sprint(i)} }
	skewed := func(i int) []string { // most keys tiny, the rest huge
		if i < 3500 {
			return []string{fmt.Sprint(i)}
		}
		return []string{fmt.Sprint(int64(1)<<50 + int64(i))}
	}
	composite := func(i int) []string { return []string{fmt.Sprint(i / 7), fmt.Sprintf("'%c'", 'a'+i%7)} }
	text := func(i int) []string { return []string{fmt.Sprintf("'k%05d'", i)} }
	tests := []struct {
		name    string
		after   []string
		keys    [][]string
		parts   int
		minRows int   // 0: MinRangeRows
		want    []int // rows per range
	}{
		{name: "empty", keys: nil, parts: 4, want: nil},
		{name: "one part", keys: keysOf(10000, num), parts: 1, want: []int{10000}},
		{name: "even", keys: keysOf(10000, num), parts: 4, want: []int{2500, 2500, 2500, 2500}},
		{name: "uneven", keys: keysOf(10001, num), parts: 3, want: []int{3333, 3334, 3334}},
		{name: "skewed", keys: keysOf(8000, skewed), parts: 4, want: []int{2000, 2000, 2000, 2000}},
		{name: "composite", after: []string{"3", "'b'"}, keys: keysOf(7000, composite), parts: 2, want: []int{3500, 3500}},
		{name: "text", keys: keysOf(4000, text), parts: 8, want: []int{1000, 1000, 1000, 1000}},
		{name: "fewer rows than a part", keys: keysOf(999, num), parts: 4, want: []int{999}},
		{name: "parts capped by rows", keys: keysOf(2500, num), parts: 4, want: []int{1250, 1250}},
		{name: "zero parts", keys: keysOf(3000, num), parts: 0, want: []int{3000}},
		{name: "small parts", keys: keysOf(10, num), parts: 4, minRows: 1, want: []int{2, 3, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			minRows := tt.minRows
			if minRows == 0 {
				minRows = MinRangeRows
			}
			got := SplitChunk(tt.after, tt.keys, tt.parts, minRows)
			if len(got) != len(tt.want) {
				t.Fatalf("%d ranges, want %d: %v", len(got), len(tt.want), got)
			}
			after, at := tt.after, 0
			for i, r := range got {
				if !slices.Equal(r.After, after) {
					t.Errorf("range %d starts after %v, want %v", i, r.After, after)
				}
				at += tt.want[i]
				if want := tt.keys[at-1]; !slices.Equal(r.Last, want) {
					t.Errorf("range %d ends at %v, want %v (row %d)", i, r.Last, want, at-1)
				}
				after = r.Last
			}
			if at != len(tt.keys) {
				t.Errorf("ranges cover %d rows, want %d", at, len(tt.keys))
			}
		})
	}
}

// TestReadRanges: results come back in range order whatever order the
// reads end in, and one read's error cancels the others and is returned.
func TestReadRanges(t *testing.T) {
	ctx := context.Background()
	ranges := SplitChunk(nil, keysOf(4000, func(i int) []string { return []string{fmt.Sprint(i)} }), 4, 1)
	// Each read waits for the next one to end: they end last to first,
	// which only reads running at once can do.
	done := make([]chan struct{}, len(ranges)+1)
	for i := range done {
		done[i] = make(chan struct{})
	}
	close(done[len(ranges)])
	got, err := ReadRanges(ctx, ranges, func(ctx context.Context, i int, r KeyRange) (string, error) {
		defer close(done[i])
		<-done[i+1]
		return r.Last[0], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"999", "1999", "2999", "3999"}; !slices.Equal(got, want) {
		t.Fatalf("ReadRanges = %v, want %v", got, want)
	}

	boom := errors.New("boom")
	_, err = ReadRanges(ctx, ranges, func(ctx context.Context, i int, _ KeyRange) (int, error) {
		if i == 2 {
			return 0, boom
		}
		<-ctx.Done() // canceled by the failing read
		return 0, ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Fatalf("ReadRanges error = %v, want %v", err, boom)
	}
}
