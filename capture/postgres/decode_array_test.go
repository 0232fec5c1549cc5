package postgres

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseArray(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		delim   byte
		elem    decoder
		want    []any
		wantErr bool
	}{
		{name: "empty", text: "{}", want: []any{}},
		{name: "empty with space", text: " { } ", want: []any{}},
		{name: "ints", text: "{1,2,3}", elem: decodeInt4, want: []any{int32(1), int32(2), int32(3)}},
		{name: "one", text: "{x}", want: []any{"x"}},
		{name: "NULL", text: "{NULL,null,NuLl}", want: []any{nil, nil, nil}},
		{name: "quoted NULL", text: `{"NULL"}`, want: []any{"NULL"}},
		{name: "escaped NULL", text: `{\NULL}`, want: []any{"NULL"}},
		{name: "NULL prefix", text: "{NULLS,NUL}", want: []any{"NULLS", "NUL"}},
		{name: "quoted empty", text: `{""}`, want: []any{""}},
		{name: "quoted specials", text: `{"a,b","c\"d","e\\f","{x}"," sp "}`, want: []any{"a,b", `c"d`, `e\f`, "{x}", " sp "}},
		{name: "quoted escapes any byte", text: `{"\a\b"}`, want: []any{"ab"}},
		{name: "bare escapes", text: `{a\,b,c\"d,\ x\ }`, want: []any{"a,b", `c"d`, " x "}},
		{name: "bare inner space kept", text: "{a b , c}", want: []any{"a b", "c"}},
		{name: "whitespace around", text: "{ 1 ,\t2\n, \"3\" }", elem: decodeInt4, want: []any{int32(1), int32(2), int32(3)}},
		{name: "unicode", text: `{é,"✓ 😀"}`, want: []any{"é", "✓ 😀"}},
		{name: "2-D", text: "{{1,2},{3,4}}", elem: decodeInt4, want: []any{[]any{int32(1), int32(2)}, []any{int32(3), int32(4)}}},
		{name: "2-D NULL", text: "{{NULL},{3}}", elem: decodeInt4, want: []any{[]any{nil}, []any{int32(3)}}},
		{name: "3-D", text: `{{{a}},{{"b"}}}`, want: []any{[]any{[]any{"a"}}, []any{[]any{"b"}}}},
		{name: "6-D", text: "{{{{{{1}}}}}}", want: []any{[]any{[]any{[]any{[]any{[]any{"1"}}}}}}},
		{name: "bounds", text: "[0:1]={7,8}", elem: decodeInt4, want: []any{int32(7), int32(8)}},
		{name: "negative bounds", text: "[-2:-1]={7,8}", want: []any{"7", "8"}},
		{name: "2-D bounds", text: "[1:2][0:0]={{a},{b}}", want: []any{[]any{"a"}, []any{"b"}}},
		{name: "box delimiter", text: "{(1,1),(0,0);(3,3),(2,2)}", delim: ';', want: []any{"(1,1),(0,0)", "(3,3),(2,2)"}},
		{name: "quoted composite", text: `{"(1,\"x y\")","(2,)"}`, want: []any{`(1,"x y")`, "(2,)"}},
		{name: "nested array text as element", text: `{"{1,2}"}`, elem: func(b []byte) (any, error) { return parseArray(b, ',', decodeInt4) }, want: []any{[]any{int32(1), int32(2)}}},

		{name: "no input", text: "", wantErr: true},
		{name: "no braces", text: "1,2", wantErr: true},
		{name: "unclosed", text: "{1,2", wantErr: true},
		{name: "unclosed after delim", text: "{1,", wantErr: true},
		{name: "junk after", text: "{1}x", wantErr: true},
		{name: "two arrays", text: "{1}{2}", wantErr: true},
		{name: "empty element", text: "{1,,2}", wantErr: true},
		{name: "trailing delim", text: "{1,}", wantErr: true},
		{name: "leading delim", text: "{,1}", wantErr: true},
		{name: "unterminated quote", text: `{"abc}`, wantErr: true},
		{name: "unterminated escape in quote", text: `{"abc\`, wantErr: true},
		{name: "backslash at end", text: `{abc\`, wantErr: true},
		{name: "quote in bare", text: `{ab"c"}`, wantErr: true},
		{name: "text after quote", text: `{"ab"c}`, wantErr: true},
		{name: "brace in bare", text: `{a{b}`, wantErr: true},
		{name: "mixed depth", text: "{1,{2}}", wantErr: true},
		{name: "mixed depth reversed", text: "{{1},2}", wantErr: true},
		{name: "ragged", text: "{{1,2},{3}}", wantErr: true},
		{name: "ragged inner", text: "{{{1},{2}},{{3}}}", wantErr: true},
		{name: "empty sub-array", text: "{{},{}}", wantErr: true},
		{name: "7-D", text: "{{{{{{{1}}}}}}}", wantErr: true},
		{name: "bounds without value", text: "[1:2]", wantErr: true},
		{name: "bounds without equals", text: "[1:2]{1,2}", wantErr: true},
		{name: "bounds count mismatch", text: "[1:2]={{1},{2}}", wantErr: true},
		{name: "bounds length mismatch", text: "[0:2]={1,2}", wantErr: true},
		{name: "bounds inverted", text: "[2:1]={1,2}", wantErr: true},
		{name: "bounds not a number", text: "[a:1]={1}", wantErr: true},
		{name: "bounds overflow", text: "[0:9999999999]={1}", wantErr: true},
		{name: "bounds for empty", text: "[1:1]={}", wantErr: true},
		{name: "element error", text: "{1,x}", elem: decodeInt4, wantErr: true},
		{name: "bad delimiter", text: "{1}", delim: '"', wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			delim, elem := tt.delim, tt.elem
			if delim == 0 {
				delim = ','
			}
			if elem == nil {
				elem = decodeString
			}
			got, err := parseArray([]byte(tt.text), delim, elem)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parse %q = %#v, want error", tt.text, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse %q: %v", tt.text, err)
			}
			if !sameValue(got, tt.want) {
				t.Errorf("parse %q = %#v, want %#v", tt.text, got, tt.want)
			}
		})
	}
}

func TestArrayDecoderError(t *testing.T) {
	_, err := arrayDecoder("_text", decodeString, ',')([]byte("{1"))
	if !errors.Is(err, errArraySyntax) || !strings.HasPrefix(err.Error(), "decode _text: ") {
		t.Errorf("error = %v", err)
	}
}

// FuzzDecodeArray parses arbitrary text as arrays of text, ints and boxes.
// It must never panic, and every array of text it accepts must survive a
// round trip through array_out's encoding.
func FuzzDecodeArray(f *testing.F) {
	for _, s := range []string{
		"{}", "{1,2,3}", "{NULL,\"NULL\"}", `{"a\"b","c\\d"}`, "{{1,2},{3,4}}",
		"[0:1]={7,8}", "[1:1][1:2]={{1,2}}", "{(1,1),(0,0);(2,2),(1,1)}", " { a b , c } ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		parseArray([]byte(text), ',', decodeInt8)
		parseArray([]byte(text), ';', decodeString)
		got, err := parseArray([]byte(text), ',', decodeString)
		if err != nil {
			return
		}
		again, err := parseArray([]byte(encodeArray(got)), ',', decodeString)
		if err != nil {
			t.Fatalf("parse %q: ok, parse its encoding %q: %v", text, encodeArray(got), err)
		}
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("parse %q = %#v, parse its encoding %q = %#v", text, got, encodeArray(got), again)
		}
	})
}

// encodeArray renders an array of strings and NULLs the way array_out
// does, quoting every element.
func encodeArray(a []any) string {
	var b strings.Builder
	var enc func([]any)
	enc = func(a []any) {
		b.WriteByte('{')
		for i, v := range a {
			if i > 0 {
				b.WriteByte(',')
			}
			switch v := v.(type) {
			case nil:
				b.WriteString("NULL")
			case []any:
				enc(v)
			case string:
				b.WriteByte('"')
				for _, c := range []byte(v) {
					if c == '"' || c == '\\' {
						b.WriteByte('\\')
					}
					b.WriteByte(c)
				}
				b.WriteByte('"')
			}
		}
		b.WriteByte('}')
	}
	enc(a)
	return b.String()
}
