package tdsfake

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"sync"
)

// Record mode: a Recorder is a TCP proxy between a client and a server
// (a real SQL Server in the layer-4 tests, when SYNCD_TEST_MSSQL_RECORD
// names a directory: testenv.MSSQLDatabase) that saves each request
// after the login and the server's whole reply as a Transcript. Replay
// serves a transcript's replies from a fake, and ReplayTranscript drives
// go-mssqldb through it, so that layer 3 reads a real server's bytes.
//
// The proxy forwards every byte unchanged. It parses TDS packets (8-byte
// header, [MS-TDS] 2.2.3) and, in either direction, TLS records (content
// types 20 to 23, a 5-byte header): the login of a connection with
// encrypt=disable is still wrapped in TLS, and is forwarded, not
// recorded. A connection encrypted throughout cannot be recorded.

// Exchange is one request after the login and the server's reply.
type Exchange struct {
	// Kind is "batch", "rpc", "tm" (a transaction manager request) or
	// "attention".
	Kind string `json:"kind"`
	// Statement is a batch's text or an sp_executesql RPC's statement.
	Statement string `json:"statement,omitempty"`
	// Params are an RPC's parameters after the declarations, each with
	// its Go type (Param).
	Params []Param `json:"params,omitempty"`
	// Request and Reply are the messages' bodies, without packet
	// headers.
	Request []byte `json:"request"`
	Reply   []byte `json:"reply"`
}

// Param is a parameter value with its Go type: "int64", "bool",
// "float64", "string", "bytes" or "null".
type Param struct {
	Type  string `json:"type"`
	Value any    `json:"value,omitempty"`
}

// Transcript is what a Recorder saved.
type Transcript struct {
	Exchanges []Exchange `json:"exchanges"`
}

// Recorder is a recording proxy to one upstream server.
type Recorder struct {
	ln       net.Listener
	upstream string

	mu        sync.Mutex
	exchanges []Exchange
	wg        sync.WaitGroup
}

// NewRecorder listens on a free loopback port and proxies each
// connection to upstream ("host:port").
func NewRecorder(upstream string) (*Recorder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the recording proxy: %w", err)
	}
	r := &Recorder{ln: ln, upstream: upstream}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr is the proxy's address.
func (r *Recorder) Addr() string { return r.ln.Addr().String() }

// Close stops the proxy, closes its connections and waits for them.
func (r *Recorder) Close() error {
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

// Transcript returns what was recorded so far, in the order the replies
// ended.
func (r *Recorder) Transcript() Transcript {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Transcript{Exchanges: append([]Exchange(nil), r.exchanges...)}
}

// Save writes the transcript as JSON to path.
func (r *Recorder) Save(path string) error {
	b, err := json.MarshalIndent(r.Transcript(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode transcript: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("save transcript: %w", err)
	}
	return nil
}

func (r *Recorder) accept() {
	defer r.wg.Done()
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	defer func() {
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	}()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", r.upstream)
		if err != nil {
			c.Close()
			continue
		}
		mu.Lock()
		open = append(open, c, u)
		mu.Unlock()
		p := &pipe{r: r}
		conns.Add(2)
		go func() {
			defer conns.Done()
			p.copy(u, c, true)
			u.Close()
		}()
		go func() {
			defer conns.Done()
			p.copy(c, u, false)
			c.Close()
		}()
	}
}

// pipe pairs the requests of one connection with their replies.
type pipe struct {
	r       *Recorder
	mu      sync.Mutex
	pending []Exchange // requests sent, awaiting replies
}

// copy forwards src to dst unit by unit (a TDS packet or a TLS record),
// collecting messages: requests if fromClient, else replies.
func (p *pipe) copy(dst io.Writer, src io.Reader, fromClient bool) {
	var msg []byte
	var typ byte
	for {
		unit, payload, ptype, eom, err := readUnit(src)
		if err != nil {
			return
		}
		done := payload != nil && eom // a TLS record (the login) is not recorded
		if payload != nil {
			typ = ptype
			msg = append(msg, payload...)
		}
		// A message is recorded before its last packet goes on: a
		// request's reply may come back, and a reply's reader go on,
		// before this goroutine runs again.
		if done {
			if fromClient {
				p.request(typ, msg)
			} else {
				p.reply(msg)
			}
			msg = nil
		}
		if _, err := dst.Write(unit); err != nil {
			return
		}
	}
}

// readUnit reads one TDS packet (payload set, its type, end of message)
// or TLS record (payload nil).
func readUnit(src io.Reader) (unit, payload []byte, typ byte, eom bool, err error) {
	head := make([]byte, 5)
	if _, err := io.ReadFull(src, head); err != nil {
		return nil, nil, 0, false, err
	}
	if head[0] >= 20 && head[0] <= 23 { // TLS record
		n := int(binary.BigEndian.Uint16(head[3:5]))
		unit = make([]byte, 5+n)
		copy(unit, head)
		_, err := io.ReadFull(src, unit[5:])
		return unit, nil, 0, false, err
	}
	n := int(binary.BigEndian.Uint16(head[2:4]))
	if n < 8 {
		return nil, nil, 0, false, errors.New("tds packet shorter than its header")
	}
	unit = make([]byte, n)
	copy(unit, head)
	if _, err := io.ReadFull(src, unit[5:]); err != nil {
		return nil, nil, 0, false, err
	}
	return unit, unit[8:], head[0], head[1]&1 != 0, nil
}

// request queues a client message that is a request after the login.
func (p *pipe) request(typ byte, msg []byte) {
	e := Exchange{Request: append([]byte(nil), msg...)}
	switch typ {
	case pktBatch:
		e.Kind, e.Statement = "batch", batchText(msg)
	case pktRPC:
		e.Kind = "rpc"
		stmt, params, err := rpcParams(msg)
		if err != nil {
			e.Statement = rpcStatement(msg)
		} else {
			e.Statement = stmt
			for _, v := range params {
				e.Params = append(e.Params, toParam(v))
			}
		}
	case pktTM:
		e.Kind = "tm"
	case pktAttn:
		e.Kind = "attention"
	default: // prelogin, login: their replies are not recorded
		return
	}
	p.mu.Lock()
	p.pending = append(p.pending, e)
	p.mu.Unlock()
}

// reply ends the oldest pending exchange with msg; replies to the
// prelogin and login have none.
func (p *pipe) reply(msg []byte) {
	p.mu.Lock()
	if len(p.pending) == 0 {
		p.mu.Unlock()
		return
	}
	e := p.pending[0]
	p.pending = p.pending[1:]
	p.mu.Unlock()
	e.Reply = append([]byte(nil), msg...)
	p.r.mu.Lock()
	p.r.exchanges = append(p.r.exchanges, e)
	p.r.mu.Unlock()
}

func toParam(v any) Param {
	switch v := v.(type) {
	case nil:
		return Param{Type: "null"}
	case int64:
		return Param{Type: "int64", Value: v}
	case bool:
		return Param{Type: "bool", Value: v}
	case float64:
		return Param{Type: "float64", Value: v}
	case string:
		return Param{Type: "string", Value: v}
	case []byte:
		return Param{Type: "bytes", Value: v}
	case NullBinary:
		return Param{Type: "bytes"} // a nil []byte: a typed NULL again
	}
	return Param{Type: fmt.Sprintf("%T", v), Value: fmt.Sprint(v)}
}

// arg returns the Go value of p as read back from JSON.
func (p Param) arg() (any, error) {
	if p.Type == "null" {
		return nil, nil
	}
	dst, ok := map[string]any{"int64": new(int64), "bool": new(bool), "float64": new(float64), "string": new(string), "bytes": new([]byte)}[p.Type]
	if !ok {
		return nil, fmt.Errorf("parameter of type %s", p.Type)
	}
	b, err := json.Marshal(p.Value)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return nil, fmt.Errorf("decode %s parameter: %w", p.Type, err)
	}
	return reflect.ValueOf(dst).Elem().Interface(), nil
}
