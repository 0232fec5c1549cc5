package router

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/syncd-dev/syncd/capture"
	"github.com/syncd-dev/syncd/scopes"
)

// FuzzDecode checks the envelope decoders on arbitrary bytes: they never
// panic; DecodeRaw accepts and rejects what encoding/json/v2 does with
// decodeOptions (but for a body of null, which it rejects) and
// reads the same envelope; Decode accepts what DecodeRaw accepts and
// agrees with it on every field and row value; a decoded envelope
// encoded again with encoding/json decodes to the same envelope. Seeds
// are in testdata/fuzz/FuzzDecode (the docs/wire-format.md example and
// bodies appendBody writes).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"op":"u","key":{"id":42},"before":{"id":42,"status":"pending"},"after":{"id":42,"status":"shipped","total":"199.90"},"unchanged":["notes"],"scope":{"name":"orders_eu","version":3,"reason":"change"},"source":{"kind":"postgres","name":"app","db":"app","schema":"public","table":"orders","pos":"0/16B3748","commit_ts":"2026-03-01T10:00:00.123456Z","snapshot":false},"txn":{"id":"771","seq":3,"last":false},"ts_ms":1772359200130}`))
	f.Add([]byte(`{"op":"t","key":null,"before":null,"after":null,"scope":{"name":"s","version":1,"reason":"change"},"source":{"kind":"mysql","name":"m","db":"shop","schema":"shop","table":"t","pos":"1A/FF","commit_ts":"2026-03-01T10:00:00+01:00","snapshot":false,"origin":"o"},"txn":{"id":"x","seq":1,"last":true},"ts_ms":0}`))
	f.Add([]byte(`{"op":"c","after":{"a":[1,null,["x"]],"j":{"a":[1,2.5e3]},"f":"NaN","s":"\u00e9\ufffd"}} trailing`))
	f.Add([]byte(`{"o\u0070":"c","OP":"d","x":{"op":1},"unchanged":[null,"a"],"scope":null,"txn":{"seq":-9223372036854775808,"last":null},"ts_ms":1e3}`))
	f.Add([]byte("{\"op\":\"c\",\"key\":{\"a\":1},\"key\":{\"b\":{\"c\":1,\"c\":2}},\"scope\":{\"name\":\"s\"},\"scope\":{\"version\":2},\"txn\":{\"id\":\"\xff\"},\"txn\":null,\"after\":{\"a\":\"\xfe\",\"a\":2}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := DecodeRaw(data)
		var want RawEnvelope
		wantErr := jsonv2.Unmarshal(data, &want, decodeOptions)
		if wantErr == nil && string(bytes.TrimSpace(data)) == "null" {
			wantErr = errors.New("null is no envelope")
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("DecodeRaw(%q): %v; encoding/json/v2: %v", data, err, wantErr)
		}
		if err != nil {
			return
		}
		if !sameRaw(raw, &want) {
			t.Fatalf("DecodeRaw(%q) = %#v; encoding/json/v2 reads %#v", data, raw, &want)
		}
		e, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode(%q): %v, DecodeRaw accepts it", data, err)
		}
		checkRawAgrees(t, e, raw)

		// Encode with encoding/json and decode again. Marshal refuses a
		// commit_ts outside years 0 to 9999, which decoding accepted.
		again, err := json.Marshal(e)
		if err != nil {
			if y := e.Source.CommitTS.Year(); y >= 0 && y <= 9999 {
				t.Fatalf("Marshal(%#v): %v", e, err)
			}
			return
		}
		e2, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(%q) = %#v, encoded as %q, does not decode: %v", data, e, again, err)
		}
		if !sameEnvelope(e, e2) {
			t.Fatalf("Decode(%q) = %#v, encoded as %q, decodes to %#v", data, e, again, e2)
		}
	})
}

// checkRawAgrees wants raw, as DecodeRaw read it, equal to e: the same
// fields, and row values that decode to e's.
func checkRawAgrees(t *testing.T, e *Envelope, raw *RawEnvelope) {
	t.Helper()
	rows := func(m map[string]json.RawMessage) map[string]any {
		if m == nil {
			return nil
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			d := json.NewDecoder(bytes.NewReader(v))
			d.UseNumber()
			var x any
			if err := d.Decode(&x); err != nil {
				t.Fatalf("raw value %q of %q: %v", v, k, err)
			}
			out[k] = x
		}
		return out
	}
	conv := Envelope{Op: raw.Op, Key: rows(raw.Key), Before: rows(raw.Before), After: rows(raw.After),
		Unchanged: raw.Unchanged, Scope: raw.Scope, Source: raw.Source, Txn: raw.Txn, TsMs: raw.TsMs}
	if !sameEnvelope(e, &conv) {
		t.Fatalf("Decode = %#v, DecodeRaw = %#v", e, raw)
	}
}

// sameEnvelope compares envelopes, commit times as instants with their
// UTC offsets, and an empty "unchanged" like a missing one (the encoding
// leaves it out when empty).
func sameEnvelope(a, b *Envelope) bool { return same(a, b, true) }

// sameRaw compares raw envelopes, commit times as instants with their UTC
// offsets.
func sameRaw(a, b *RawEnvelope) bool { return same(a, b, false) }

func same[V any](a, b *EnvelopeOf[V], emptyUnchangedIsNil bool) bool {
	ta, tb := a.Source.CommitTS, b.Source.CommitTS
	_, oa := ta.Zone()
	_, ob := tb.Zone()
	if !ta.Equal(tb) || oa != ob {
		return false
	}
	x, y := *a, *b
	x.Source.CommitTS, y.Source.CommitTS = time.Time{}, time.Time{}
	if emptyUnchangedIsNil && len(x.Unchanged) == 0 && len(y.Unchanged) == 0 {
		x.Unchanged, y.Unchanged = nil, nil
	}
	return reflect.DeepEqual(x, y)
}

// fuzzTable has a column of every kind of capture value.
var fuzzTable = &capture.Table{
	Schema: "public", Name: "every",
	Columns: []capture.Column{
		{Name: "id", Type: "integer"}, {Name: "big", Type: "bigint"}, {Name: "u", Type: "bigint unsigned"},
		{Name: "f4", Type: "real"}, {Name: "f8", Type: "double precision"}, {Name: "price", Type: "numeric"},
		{Name: "name", Type: "text"}, {Name: "bin", Type: "bytea"}, {Name: "ts", Type: "timestamptz"},
		{Name: "doc", Type: "jsonb"}, {Name: "arr", Type: "text[]"}, {Name: "ok", Type: "boolean"},
	},
	Key: []int{0, 1},
}

// FuzzEncode checks the publish path: a row change with values built from
// the fuzz input, encoded by appendBody, decodes with Decode to what
// docs/wire-format.md says: every field as sent, strings with invalid UTF-8
// replaced as encoding/json does, and each value in its documented JSON
// form. setLast then turns txn.last to true and changes nothing else.
func FuzzEncode(f *testing.F) {
	f.Add(byte('u'), "771", "", uint64(0x16B3748), int64(1772359200123456000), 3, "Wä\x00\"", []byte("\x02\x07\x03\x04\x05\x06"))
	f.Add(byte('d'), "", "origin\xff", uint64(math.MaxUint64), int64(-62135596800000000000/1000), 1, "", []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Add(byte('t'), "1", "o", uint64(1), int64(0), 0, "x", []byte{})
	f.Fuzz(func(t *testing.T, op byte, txnID, origin string, pos uint64, commitNs int64, seq int, s string, data []byte) {
		ops := []capture.Op{capture.OpInsert, capture.OpUpdate, capture.OpDelete, capture.OpRead, capture.OpTruncate}
		m := message{op: ops[int(op)%len(ops)], reason: []string{ReasonChange, ReasonSnapshot, ReasonScopeEnter, ReasonScopeExit}[op/8%4], seq: seq}
		var columns []string // nil: every column
		if op&0x80 != 0 {
			columns = []string{"id", "price", "name", "ts", "doc"}
		}
		st := &scopes.Table{Scope: &scopes.Scope{Name: "s"}, ID: fuzzTable.ID(), Columns: columns, Target: fuzzTable.ID()}
		p, err := newPlan(nil, st, fuzzTable, SourceInfo{Kind: "postgres", Name: "app", DB: s}, seq, NewMetrics(nil))
		if err != nil {
			t.Fatal(err)
		}
		m.plan = p
		// Commit times come from the source's clock: keep them in the
		// years RFC 3339 can write.
		commit := time.Unix(0, commitNs).UTC()
		in := envInput{data: data, s: s}
		txn := &capture.Txn{ID: txnID, Origin: origin, Pos: capture.Position(pos), CommitTime: commit, Snapshot: op&0x40 != 0}
		m.ev = &capture.Event{Txn: txn, Table: fuzzTable, Op: m.op}
		switch m.op {
		case capture.OpTruncate:
		case capture.OpDelete:
			m.before = in.row()
			m.key = m.before
		default:
			if op&0x20 != 0 {
				m.before = in.row()
			}
			m.after = in.row()
			m.key = m.after
		}
		for _, r := range []capture.Row{m.before, m.after} {
			for _, k := range p.key {
				if r != nil && r[k] == capture.Absent {
					r[k] = int32(0) // key columns are always sent
				}
			}
		}

		body, off := appendBody(nil, &m, testNow)
		e, err := Decode(body)
		if err != nil {
			t.Fatalf("appendBody wrote %q: %v", body, err)
		}
		check := func(what string, got, want any) {
			t.Helper()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s = %#v, want %#v\nbody %s", what, got, want, body)
			}
		}
		check("op", e.Op, string(rune(m.op)))
		var key []int
		if m.key != nil {
			key = p.key
		}
		check("key", e.Key, wireRow(t, p.table, key, m.key))
		check("before", e.Before, wireRow(t, p.table, p.cols, m.before))
		check("after", e.After, wireRow(t, p.table, p.cols, m.after))
		var unchanged []string
		for _, c := range p.cols {
			if m.after != nil && m.after[c] == capture.Absent {
				unchanged = append(unchanged, p.table.Columns[c].Name)
			}
		}
		check("unchanged", e.Unchanged, unchanged)
		check("scope", e.Scope.Name+"/"+strconv.Itoa(e.Scope.Version)+"/"+e.Scope.Reason, "s/"+strconv.Itoa(seq)+"/"+m.reason)
		check("source", []string{e.Source.Kind, e.Source.Name, e.Source.DB, e.Source.Schema, e.Source.Table, e.Source.Origin},
			[]string{"postgres", "app", jsonString(s), "public", "every", jsonString(origin)})
		check("source.pos", e.Source.Pos, txn.Pos)
		check("source.snapshot", e.Source.Snapshot, txn.Snapshot)
		if y := commit.Year(); y > 0 && y <= 9999 && !e.Source.CommitTS.Equal(commit) {
			t.Fatalf("commit_ts = %v, want %v", e.Source.CommitTS, commit)
		}
		check("txn", []any{e.Txn.ID, e.Txn.Seq, e.Txn.Last, e.TsMs}, []any{jsonString(txnID), seq, false, testNow.UnixMilli()})

		last, err := Decode(setLast(body, off, false))
		if err != nil || !last.Txn.Last {
			t.Fatalf("setLast(%q) = %q: %v", body, setLast(body, off, false), err)
		}
		last.Txn.Last = false
		if !sameEnvelope(e, last) {
			t.Fatalf("setLast changed more than txn.last: %#v, was %#v", last, e)
		}
	})
}

// wireRow is the JSON object docs/wire-format.md gives for row's columns
// cols, as Decode reads it: nil for a nil row, Absent values left out.
func wireRow(t *testing.T, table *capture.Table, cols []int, row capture.Row) map[string]any {
	if row == nil {
		return nil
	}
	out := map[string]any{}
	for _, c := range cols {
		if row[c] != capture.Absent {
			out[jsonString(table.Columns[c].Name)] = wireValue(t, row[c])
		}
	}
	return out
}

func wireValue(t *testing.T, v any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case bool:
		return v
	case int32:
		return json.Number(strconv.FormatInt(int64(v), 10))
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case float32:
		return wireFloat(float64(v), 32)
	case float64:
		return wireFloat(v, 64)
	case capture.Decimal:
		return jsonString(string(v))
	case string:
		return jsonString(v)
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case time.Time:
		return jsonString(v.UTC().Format(time.RFC3339Nano))
	case capture.JSON:
		if v == "" {
			return nil
		}
		d := json.NewDecoder(bytes.NewReader([]byte(v)))
		d.UseNumber()
		var x any
		if err := d.Decode(&x); err != nil {
			t.Fatalf("test JSON %q: %v", v, err)
		}
		return x
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = wireValue(t, e)
		}
		return out
	}
	t.Fatalf("no wire form for %T", v)
	return nil
}

func wireFloat(f float64, bits int) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
}

// jsonString is s as encoding/json reads it back: invalid UTF-8 replaced.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

// envInput builds rows of fuzzTable from fuzz bytes.
type envInput struct {
	data []byte
	s    string // the fuzzed string, for text values
}

func (in *envInput) byte() byte {
	if len(in.data) == 0 {
		return 0
	}
	c := in.data[0]
	in.data = in.data[1:]
	return c
}

func (in *envInput) uint64() uint64 {
	var b [8]byte
	n := copy(b[:], in.data)
	in.data = in.data[n:]
	return binary.LittleEndian.Uint64(b[:])
}

func (in *envInput) row() capture.Row {
	row := make(capture.Row, len(fuzzTable.Columns))
	for i := range row {
		switch c := in.byte(); c % 4 {
		case 0:
			row[i] = nil
		case 1:
			row[i] = capture.Absent
		default:
			row[i] = in.value(i)
		}
	}
	return row
}

// jsonDocs are valid documents: sources send json and jsonb as the
// server validated them.
var jsonDocs = []capture.JSON{"", "null", `{"a":[1,2.5e300,"x"]}`, "  [ true , false ]  ", `"\u00e9\ud83d\ude00"`, "-0.0", `{"a":1,"a":2}`, "18446744073709551616"}

func (in *envInput) value(col int) any {
	switch fuzzTable.Columns[col].Name {
	case "id":
		return int32(in.uint64())
	case "big":
		return int64(in.uint64())
	case "u":
		return in.uint64()
	case "f4":
		return math.Float32frombits(uint32(in.uint64()))
	case "f8":
		return math.Float64frombits(in.uint64())
	case "price":
		return capture.Decimal(in.s)
	case "name":
		return in.s
	case "bin":
		return []byte(in.s)
	case "ts":
		return time.Unix(0, int64(in.uint64())).In(time.FixedZone("x", 3600))
	case "doc":
		return jsonDocs[in.byte()%uint8(len(jsonDocs))]
	case "arr":
		return []any{in.s, nil, []any{int64(in.uint64()), true}}
	}
	return in.byte()&1 == 1
}

// FuzzDecodeRows checks DecodeRows on arbitrary bytes: it never panics,
// returns at least one envelope when it succeeds, reads a body that is not
// an array as DecodeRaw does, and reads [x,x] as two envelopes equal to
// DecodeRaw's reading of x.
func FuzzDecodeRows(f *testing.F) {
	f.Add([]byte(`{"op":"c","after":{"id":1},"txn":{"id":"1","seq":1,"last":true}}`))
	f.Add([]byte(` [{"op":"c","after":{"id":"1"}},{"op":"d","before":{"id":"1"}}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[null]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := DecodeRows(data)
		if err == nil && len(rows) == 0 {
			t.Fatalf("DecodeRows(%q) returned no envelope and no error", data)
		}
		if IsPack(data) {
			return
		}
		raw, rawErr := DecodeRaw(data)
		if (err == nil) != (rawErr == nil) {
			t.Fatalf("DecodeRows(%q): %v, DecodeRaw: %v", data, err, rawErr)
		}
		if err != nil {
			return
		}
		pair, err := DecodeRows(fmt.Appendf(nil, "[%s,%s]", data, data))
		if err != nil {
			t.Fatalf("DecodeRows([x,x]) of %q: %v", data, err)
		}
		want, _ := json.Marshal(raw)
		for i, r := range append(pair, rows[0]) {
			if got, _ := json.Marshal(r); string(got) != string(want) {
				t.Fatalf("DecodeRows of %q, envelope %d = %s, want %s", data, i, got, want)
			}
		}
	})
}
