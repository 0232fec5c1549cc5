package mysql

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/syncd-dev/syncd/capture"
)

// A binlog coordinate (file mariadb-bin.000003, offset 1234) maps onto a
// capture.Position as the file's sequence number in the high 32 bits and
// the offset in the low 32 bits: 3<<32 | 1234. Positions so made grow in
// binlog order, also across file rotations.

// fileSeq returns the sequence number of a binlog file name: the digits
// after its last dot.
func fileSeq(file string) (uint64, error) {
	i := strings.LastIndexByte(file, '.')
	n, err := strconv.ParseUint(file[i+1:], 10, 32)
	if i < 0 || err != nil {
		return 0, fmt.Errorf("binlog file name %q does not end in a sequence number", file)
	}
	return n, nil
}

// position maps a binlog coordinate onto a capture.Position.
func position(file string, offset uint32) (capture.Position, error) {
	seq, err := fileSeq(file)
	if err != nil {
		return 0, err
	}
	return capture.Position(seq<<32 | uint64(offset)), nil
}

// state is what a source saves in its Store: where to resume. File and Pos
// are the end of the last transaction whose changes are durable; GTID is
// the server's GTID state up to and including it (MariaDB: the gtid list,
// one GTID per domain; MySQL: the executed GTID set), empty when the
// server has none.
type state struct {
	Flavor string `json:"flavor"`
	File   string `json:"file"`
	Pos    uint32 `json:"pos"`
	GTID   string `json:"gtid,omitempty"`
	// Published, when after the state, is the end of the last
	// transaction published: the state is the start of a prepared XA
	// transaction (xa.go), and what commits before Published is read
	// again only to find it.
	Published capture.Position `json:"published,omitempty"`
}

func (st state) position() capture.Position {
	p, _ := position(st.File, st.Pos)
	return p
}

func (st state) String() string {
	if st.GTID != "" {
		return fmt.Sprintf("%s:%d (gtid %s)", st.File, st.Pos, st.GTID)
	}
	return fmt.Sprintf("%s:%d", st.File, st.Pos)
}

func decodeState(b []byte) (state, error) {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("decode saved position: %w", err)
	}
	if _, err := fileSeq(st.File); err != nil {
		return st, fmt.Errorf("decode saved position: %w", err)
	}
	return st, nil
}

// gtidSet is a GTID set that grows as transactions commit.
type gtidSet struct {
	flavor string
	set    gomysql.GTIDSet // nil when the server has no GTIDs
}

func parseGTIDSet(flavor, s string) (gtidSet, error) {
	set, err := gomysql.ParseGTIDSet(flavor, s)
	if err != nil {
		return gtidSet{}, fmt.Errorf("parse gtid set %q: %w", s, err)
	}
	return gtidSet{flavor: flavor, set: set}, nil
}

func (g gtidSet) String() string {
	if g.set == nil {
		return ""
	}
	return g.set.String()
}

// savePoint is a committed transaction's resume state, waiting until the
// sink reports the transaction durable.
type savePoint struct {
	ack  capture.Position
	st   state
	sent bool // the transaction went to the sink (else it had no published change)
}

// saveQueue holds the resume states of committed transactions in commit
// order until they are durable. Runs of transactions that never reached
// the sink are kept as their last member only, so the queue is as long as
// the sink's in-flight window, not the number of transactions read.
type saveQueue struct {
	q []savePoint
}

func (sq *saveQueue) push(p savePoint) {
	if n := len(sq.q); n > 0 && !p.sent && !sq.q[n-1].sent {
		sq.q[n-1] = p
		return
	}
	sq.q = append(sq.q, p)
}

// pop removes every save point the sink reports durable and returns the
// last of them. durable is the sink's contiguous durable Ack; idle means
// every committed transaction is durable.
func (sq *saveQueue) pop(durable capture.Position, idle bool) (state, bool) {
	var last state
	n := 0
	for n < len(sq.q) && (idle || sq.q[n].ack <= durable) {
		last = sq.q[n].st
		n++
	}
	if n == 0 {
		return last, false
	}
	sq.q = append(sq.q[:0], sq.q[n:]...)
	return last, true
}

func jsonState(st state) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode position: %w", err)
	}
	return b, nil
}
