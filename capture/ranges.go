package capture

import (
	"context"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// A chunk of a chunked backfill (see Snapshotter) may be read by several
// connections at once, each reading a part of the chunk's key range in a
// transaction of its own, all between the chunk's low and high
// watermarks. Every read then sees what the one read of the chunk would
// have seen as far as the window rule goes: each begins after the low
// watermark and ends before the high one, so a change committed in the
// window is dropped from the chunk whichever read saw it, and a change
// committed before the low watermark that a read did not see (PostgreSQL)
// is dropped whichever read missed it (the union of the reads'
// snapshots). The chunk still goes out as one snapshot transaction at its
// high watermark, in key order, and records one state: the key of its
// last row. The source first reads the keys of the chunk's rows (an
// index-only read, much lighter than the rows), and SplitChunk cuts them
// into ranges of equal rows, whatever the keys' distribution.

// MinRangeRows is the default fewest rows of a part of a chunk read in
// parallel: smaller parts cost more in round trips than they save.
const MinRangeRows = 1000

// DefaultParallelism is the default number of connections that read a
// backfill chunk at once: half the CPUs syncd may use, at least 1 and at
// most 4. The reads compete with decoding, publishing and applying the
// rows for the CPUs of a host that runs syncd next to its databases (on
// 2 CPUs, 2 readers read a chunk slower than 1: docs/performance.md).
func DefaultParallelism() int { return max(1, min(4, runtime.GOMAXPROCS(0)/2)) }

// KeyRange is a part of a chunk's key range: the rows whose key is after
// After (nil: from the start of the phase's range) up to and including
// Last. Keys are SQL literals of the source, in key order.
type KeyRange struct {
	After []string
	Last  []string
}

// SplitChunk cuts the range of a chunk that starts after after (nil: at
// the start) and whose rows have the keys keys, in key order, into at
// most parts ranges of consecutive keys, of about equal numbers of rows
// and at least minRows rows each (one range if there are fewer).
// The ranges cover the keys exactly: each starts after the last key of
// the one before, and the last ends at the last key. It returns nil for
// no keys.
func SplitChunk(after []string, keys [][]string, parts, minRows int) []KeyRange {
	n := len(keys)
	if n == 0 {
		return nil
	}
	parts = max(1, min(parts, n/max(minRows, 1)))
	ranges := make([]KeyRange, 0, parts)
	for i := 1; i <= parts; i++ {
		last := keys[i*n/parts-1]
		ranges = append(ranges, KeyRange{After: after, Last: last})
		after = last
	}
	return ranges
}

// ReadRanges reads every range with read, all at once, each on a
// goroutine it owns, and returns their results in the order of ranges.
// The first error cancels the other reads' context; ReadRanges returns
// once every read has ended, with that error.
func ReadRanges[R any](ctx context.Context, ranges []KeyRange, read func(ctx context.Context, i int, r KeyRange) (R, error)) ([]R, error) {
	out := make([]R, len(ranges))
	g, ctx := errgroup.WithContext(ctx)
	for i, r := range ranges {
		g.Go(func() error {
			res, err := read(ctx, i, r)
			out[i] = res
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
