// Package tdsfake is LAYER 3 of syncd's SQL Server tests, a TDS wire
// FAKE: a listener that speaks just enough of
// Microsoft's Tabular Data Stream protocol ([MS-TDS],
// https://learn.microsoft.com/openspecs/windows_protocols/ms-tds/) for
// go-mssqldb to log in, send SQL batches, RPC sp_executesql requests and
// transaction manager requests, and read result sets, NULLs and errors.
//
// It answers each statement from a script keyed by the statement's exact
// text, and fails the test on any statement not in the script, so the
// tests pin the T-SQL syncd sends and exercise the driver's type scanning
// and error reporting; or from a Handler: a Store (store.go), which holds
// rows and applies the shapes of apply/sqlserver's statements to them by
// parameter number, or a Replay of a recorded transcript (record.go,
// replay.go). It is not SQL Server: it parses no T-SQL.
//
// The framing follows [MS-TDS] and the byte sequences of go-mssqldb's own
// login test (tds_login_test.go), and is cross-checked with FreeTDS's
// tsql, an independent client, for login, batches, result sets and
// errors (tsql_test.go); RPC and transaction framing only with
// go-mssqldb.
package tdsfake

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"
)

// TDS packet types and tokens ([MS-TDS] 2.2.3.1.1 and 2.2.7).
const (
	pktBatch    = 1
	pktReply    = 4
	pktRPC      = 3
	pktAttn     = 6
	pktTM       = 14
	pktLogin7   = 16
	pktPrelogin = 18

	tokColMetadata = 0x81
	tokRow         = 0xD1
	tokDone        = 0xFD
	tokError       = 0xAA
	tokEnvChange   = 0xE3
	tokLoginAck    = 0xAD

	doneCount = 0x10
	doneError = 0x02
	doneAttn  = 0x20
)

// Type is a column type of a fake result set: a kind in the low byte,
// and for the kinds that have them (types.go) a precision and a scale
// above it.
type Type uint32

const (
	Int4      Type = iota // INTN(4)
	Int8                  // INTN(8)
	Bit                   // BITN
	NVarchar              // NVARCHAR(4000)
	Varbinary             // VARBINARY(8000)
	Float8                // FLTN(8)
	DateTime2             // DATETIME2(7)
	// The kinds of types.go follow.
)

// Result is what the fake answers to one statement: a result set, or
// a server error with its number.
type Result struct {
	// Cols and Rows are a result set; without Cols the answer is a
	// DONE token counting Affected rows, as for an INSERT, UPDATE or
	// DELETE (one DONE for the whole batch: go-mssqldb's RowsAffected
	// sums the counts of a batch's statements).
	Cols     []Type
	Rows     [][]any // int64, bool, string, []byte, float64, time.Time or nil per column
	Affected int64
	// Raw, if set, is the answer's message body, sent as it is: a
	// recorded server's reply (Replay).
	Raw []byte
	// ErrNo, if not 0, is the number of the server error answered
	// instead, with Msg; Before are errors sent before it (a real
	// server follows a constraint violation with 3621, "The statement
	// has been terminated").
	ErrNo  int32
	Msg    string
	Before []Result
	// Block holds the answer until the client cancels (an attention
	// message), which is then acknowledged.
	Block bool
}

// Server is a fake server for one test.
type Server struct {
	t      *testing.T
	ln     net.Listener
	script map[string]Result
	// LoginError, if not 0, is the error number the login is refused with
	// (18456: login failed).
	LoginError int32

	// Held receives each statement whose answer is held (Result.block).
	Held chan string

	// Handler, if set, answers before the script the statements it
	// knows, given their parameters, and hears of transactions.
	Handler Handler

	mu   sync.Mutex
	seen []string // the statements received, in order; "BEGIN TRAN", "ROLLBACK" for TM requests
	wg   sync.WaitGroup
}

// Handler computes answers, for a fake that holds state (Store).
type Handler interface {
	// Statement answers a batch's text or an sp_executesql RPC's
	// statement with its parameters; ok is false for a statement it does
	// not know, which the script then answers.
	Statement(text string, params []any) (r Result, ok bool)
	// Transaction tells of a transaction manager request: "BEGIN",
	// "COMMIT" or "ROLLBACK".
	Transaction(op string)
}

// New listens on a free port and answers the statements of script, keyed
// by their exact text, or by a prefix that ends in "…" (for tests that
// pin the daemon's behaviour, not its T-SQL); the test's end closes it
// and waits for its connections.
func New(t *testing.T, script map[string]Result) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Server{t: t, ln: ln, script: script, Held: make(chan string, 16)}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

// DSN is a go-mssqldb DSN for the fake: no TLS (the fake does not
// support encryption, and says so at prelogin).
func (f *Server) DSN() string {
	return fmt.Sprintf("sqlserver://syncd:secret@%s?database=erp&encrypt=disable", f.ln.Addr())
}

// Statements returns the statements received, in order, with "BEGIN TRAN
// ISOLATION n", "COMMIT", "ROLLBACK" and "ATTENTION" for the other
// requests.
func (f *Server) Statements() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func (f *Server) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			// A client that goes away, closing its connection or resetting
			// it (syncd stopping a source to copy its tables again), is
			// not the fake's error.
			if err := f.serve(c); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
				f.t.Errorf("tds fake: %v", err)
			}
		}()
	}
}

// readMessage reads one client message: its packets up to the one with
// the end-of-message status bit.
func readMessage(c net.Conn) (byte, []byte, error) {
	var msg []byte
	for {
		var h [8]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return 0, nil, err
		}
		n := int(binary.BigEndian.Uint16(h[2:4])) - 8
		body := make([]byte, n)
		if _, err := io.ReadFull(c, body); err != nil {
			return 0, nil, err
		}
		msg = append(msg, body...)
		if h[1]&1 != 0 {
			return h[0], msg, nil
		}
	}
}

// writeMessage sends a reply in packets of at most 4096 bytes.
func writeMessage(c net.Conn, body []byte) error {
	const max = 4096 - 8
	for id := byte(1); ; id++ {
		chunk := body[:min(len(body), max)]
		body = body[len(chunk):]
		status := byte(0)
		if len(body) == 0 {
			status = 1
		}
		h := []byte{pktReply, status, 0, 0, 0, 0, id, 0}
		binary.BigEndian.PutUint16(h[2:4], uint16(len(chunk)+8))
		if _, err := c.Write(append(h, chunk...)); err != nil {
			return err
		}
		if len(body) == 0 {
			return nil
		}
	}
}

func (f *Server) serve(c net.Conn) error {
	for {
		typ, msg, err := readMessage(c)
		if err != nil {
			return err
		}
		var reply []byte
		switch typ {
		case pktPrelogin:
			// VERSION 12.0.2000 at offset 11, ENCRYPTION = ENCRYPT_NOT_SUP at 17.
			reply = []byte{0x00, 0x00, 0x0B, 0x00, 0x06, 0x01, 0x00, 0x11, 0x00, 0x01, 0xFF, 0x0C, 0x00, 0x07, 0xD0, 0x00, 0x00, 0x02}
		case pktLogin7:
			if f.LoginError != 0 {
				reply = append(serverError(f.LoginError, "Login failed for user 'syncd'."), done(doneError, 0)...)
				break
			}
			reply = loginAck()
		case pktTM:
			reply = f.transaction(msg)
		case pktBatch, pktRPC:
			statement := rpcStatement(msg)
			var params []any
			if typ == pktBatch {
				statement = batchText(msg)
			} else if f.Handler != nil {
				if statement, params, err = rpcParams(msg); err != nil {
					return err
				}
			}
			if f.Handler != nil {
				if r, ok := f.Handler.Statement(statement, params); ok {
					f.record(statement)
					reply = result(r)
					break
				}
			}
			if r, _ := f.lookup(statement); r.Block {
				f.record(statement)
				f.Held <- statement
				if typ, _, err := readMessage(c); err != nil || typ != pktAttn {
					return fmt.Errorf("after a blocked statement: packet type %d, %v; want an attention", typ, err)
				}
				f.record("ATTENTION")
				reply = done(doneAttn, 0)
				break
			}
			reply = f.answer(statement)
		case pktAttn:
			reply = done(doneAttn, 0)
		default:
			return fmt.Errorf("packet type %d", typ)
		}
		if err := writeMessage(c, reply); err != nil {
			return err
		}
	}
}

// loginAck is LOGINACK (TDS 7.4, "Microsoft SQL Server" 12.0.2000) and DONE.
func loginAck() []byte {
	b := []byte{tokLoginAck, 0, 0, 1, 0x74, 0x00, 0x00, 0x04}
	b = appendBVarchar(b, "Microsoft SQL Server")
	b = append(b, 0x0C, 0x00, 0x07, 0xD0)
	binary.LittleEndian.PutUint16(b[1:3], uint16(len(b)-3))
	return append(b, done(0, 0)...)
}

// transaction answers a transaction manager request: begin (5) gets a
// transaction descriptor, commit (7) and rollback (8) end it.
func (f *Server) transaction(msg []byte) []byte {
	skip := int(binary.LittleEndian.Uint32(msg)) // ALL_HEADERS
	req := binary.LittleEndian.Uint16(msg[skip:])
	desc := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	var env []byte
	switch req {
	case 5:
		f.record(fmt.Sprintf("BEGIN TRAN ISOLATION %d", msg[skip+2]))
		if f.Handler != nil {
			f.Handler.Transaction("BEGIN")
		}
		env = append(append([]byte{8, 8}, desc...), 0) // begin: new descriptor, no old one
	case 7, 8:
		op := map[uint16]string{7: "COMMIT", 8: "ROLLBACK"}[req]
		f.record(op)
		if f.Handler != nil {
			f.Handler.Transaction(op)
		}
		env = append([]byte{byte(req + 2), 0, 8}, desc...) // commit 9 / rollback 10: old descriptor
	default:
		f.t.Errorf("tds fake: transaction manager request %d", req)
	}
	b := []byte{tokEnvChange, 0, 0}
	binary.LittleEndian.PutUint16(b[1:], uint16(len(env)))
	return append(append(b, env...), done(0, 0)...)
}

func (f *Server) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, s)
}

// batchText is a SQL batch's text, after its ALL_HEADERS.
func batchText(msg []byte) string {
	skip := int(binary.LittleEndian.Uint32(msg))
	return ucs2(msg[skip:])
}

// rpcStatement is the statement of an sp_executesql RPC: its first
// parameter, an NVARCHAR (possibly (max), sent in chunks).
func rpcStatement(msg []byte) string {
	b := msg[binary.LittleEndian.Uint32(msg):]
	if binary.LittleEndian.Uint16(b) != 0xFFFF || binary.LittleEndian.Uint16(b[2:]) != 10 {
		return "RPC other than sp_executesql"
	}
	b = b[6:]             // proc id switch, id, option flags
	b = b[1+2*int(b[0]):] // parameter name
	b = b[1:]             // status flags
	if b[0] != 0xE7 {     // NVARCHARTYPE
		return fmt.Sprintf("statement of type %#x", b[0])
	}
	maxLen := binary.LittleEndian.Uint16(b[1:])
	b = b[8:] // type, max length, collation
	if maxLen != 0xFFFF {
		n := binary.LittleEndian.Uint16(b)
		return ucs2(b[2 : 2+n])
	}
	b = b[8:] // PLP total length
	var text []byte
	for {
		n := binary.LittleEndian.Uint32(b)
		if n == 0 {
			return ucs2(text)
		}
		text = append(text, b[4:4+n]...)
		b = b[4+n:]
	}
}

func ucs2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func appendUCS2(b []byte, s string) []byte {
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func appendBVarchar(b []byte, s string) []byte {
	return appendUCS2(append(b, byte(len(utf16.Encode([]rune(s))))), s)
}

func done(status uint16, rows uint64) []byte {
	b := []byte{tokDone}
	b = binary.LittleEndian.AppendUint16(b, status)
	b = binary.LittleEndian.AppendUint16(b, 0xC1) // SELECT
	return binary.LittleEndian.AppendUint64(b, rows)
}

// lookup returns the result scripted for statement: the one keyed by its
// exact text, else one keyed by a prefix of it ending in "…".
func (f *Server) lookup(statement string) (Result, bool) {
	if r, ok := f.script[statement]; ok {
		return r, true
	}
	for k, r := range f.script {
		if p, ok := strings.CutSuffix(k, "…"); ok && strings.HasPrefix(statement, p) {
			return r, true
		}
	}
	return Result{}, false
}

// answer returns the scripted result of statement, or error 2812 for a
// statement the script lacks (and fails the test).
func (f *Server) answer(statement string) []byte {
	f.record(statement)
	r, ok := f.lookup(statement)
	if !ok {
		f.t.Errorf("tds fake: statement not in the script:\n%s", statement)
		r = Result{ErrNo: 2812, Msg: "unexpected statement"}
	}
	return result(r)
}

// result encodes r: errors, a result set, or a DONE counting rows.
func result(r Result) []byte {
	if r.Raw != nil {
		return r.Raw
	}
	if r.ErrNo != 0 {
		var b []byte
		for _, e := range r.Before {
			b = append(b, serverError(e.ErrNo, e.Msg)...)
		}
		return append(append(b, serverError(r.ErrNo, r.Msg)...), done(doneError, 0)...)
	}
	if r.Cols == nil {
		return done(doneCount, uint64(r.Affected))
	}
	b := []byte{tokColMetadata}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(r.Cols)))
	collation := []byte{0x09, 0x04, 0xD0, 0x00, 0x34} // Latin1_General_CI_AS
	for i, c := range r.Cols {
		b = append(b, 0, 0, 0, 0, 0x09, 0x00) // user type; flags: nullable, updatable unknown
		switch c {
		case Int4:
			b = append(b, 0x26, 4)
		case Int8:
			b = append(b, 0x26, 8)
		case Bit:
			b = append(b, 0x68, 1)
		case NVarchar:
			b = append(append(b, 0xE7, 0x40, 0x1F), collation...)
		case Varbinary:
			b = append(b, 0xA5, 0x40, 0x1F)
		case Float8:
			b = append(b, 0x6D, 8)
		case DateTime2:
			b = append(b, 0x2A, 7)
		default:
			b = appendTypeInfo(b, c)
		}
		b = appendBVarchar(b, fmt.Sprintf("c%d", i))
	}
	for _, row := range r.Rows {
		b = append(b, tokRow)
		for i, v := range row {
			b = appendValue(b, r.Cols[i], v)
		}
	}
	return append(b, done(doneCount, uint64(len(r.Rows)))...)
}

func appendValue(b []byte, t Type, v any) []byte {
	if t.kind() > DateTime2 {
		return appendMatrixValue(b, t, v)
	}
	switch t {
	case Float8:
		if v == nil {
			return append(b, 0)
		}
		return binary.LittleEndian.AppendUint64(append(b, 8), math.Float64bits(v.(float64)))
	case DateTime2:
		if v == nil {
			return append(b, 0)
		}
		return appendDateTime2(b, v.(time.Time))
	case Int4, Int8, Bit:
		if v == nil {
			return append(b, 0)
		}
		switch t {
		case Int4:
			return binary.LittleEndian.AppendUint32(append(b, 4), uint32(v.(int64)))
		case Int8:
			return binary.LittleEndian.AppendUint64(append(b, 8), uint64(v.(int64)))
		}
		if v.(bool) {
			return append(b, 1, 1)
		}
		return append(b, 1, 0)
	}
	if v == nil {
		return append(b, 0xFF, 0xFF)
	}
	var data []byte
	if t == NVarchar {
		data = appendUCS2(nil, v.(string))
	} else {
		data = v.([]byte)
	}
	return append(binary.LittleEndian.AppendUint16(b, uint16(len(data))), data...)
}

// appendDateTime2 appends a DATETIME2(7) value ([MS-TDS] 2.2.5.5.1.8):
// its length, the time of day in 100 ns units (5 bytes), the days since
// 0001-01-01 (3 bytes).
func appendDateTime2(b []byte, ts time.Time) []byte {
	ts = ts.UTC()
	midnight := time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC)
	ticks := uint64(ts.Sub(midnight) / 100)
	days := uint32(midnight.Unix()/86400 + 719162) // 719,162 days from 0001-01-01 to 1970-01-01
	b = append(b, 8)
	b = append(b, byte(ticks), byte(ticks>>8), byte(ticks>>16), byte(ticks>>24), byte(ticks>>32))
	return append(b, byte(days), byte(days>>8), byte(days>>16))
}

// serverError is an ERROR token with SQL Server's error number, state 1
// and severity 16.
func serverError(number int32, msg string) []byte {
	var body []byte
	body = binary.LittleEndian.AppendUint32(body, uint32(number))
	body = append(body, 1, 16)
	body = binary.LittleEndian.AppendUint16(body, uint16(len(utf16.Encode([]rune(msg)))))
	body = appendUCS2(body, msg)
	body = appendBVarchar(body, "fake")
	body = appendBVarchar(body, "")
	body = binary.LittleEndian.AppendUint32(body, 1)
	b := []byte{tokError, 0, 0}
	binary.LittleEndian.PutUint16(b[1:], uint16(len(body)))
	return append(b, body...)
}

// StatementsText joins statements for a failure message.
func StatementsText(s []string) string {
	var b bytes.Buffer
	for _, x := range s {
		b.WriteString(strings.TrimSpace(x) + "\n---\n")
	}
	return b.String()
}
