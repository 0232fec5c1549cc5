package postgres

import (
	"testing"
)

func TestAppendValue(t *testing.T) {
	tests := []struct {
		name     string
		kind     kind
		elem     kind
		raw      string
		want     string
		wantNull bool
		wantErr  bool
	}{
		{name: "null", kind: kindScalar, raw: `null`, wantNull: true},
		{name: "json null", kind: kindJSON, raw: `null`, wantNull: true},
		{name: "string", kind: kindString, raw: `"plain"`, want: `plain`},
		{name: "escaped string", kind: kindString, raw: `"q\"b\\t\tn\nu\u00e9\ud83d\ude00"`, want: "q\"b\\t\tn\nué😀"},
		{name: "number", kind: kindScalar, raw: `-12.5e3`, want: `-12.5e3`},
		{name: "big integer as string", kind: kindScalar, raw: `"9223372036854775807"`, want: `9223372036854775807`},
		{name: "NaN", kind: kindScalar, raw: `"NaN"`, want: `NaN`},
		{name: "bool", kind: kindScalar, raw: `true`, want: `true`},
		{name: "bytea", kind: kindBytea, raw: `"AP8Q"`, want: `\x00ff10`},
		{name: "empty bytea", kind: kindBytea, raw: `""`, want: `\x`},
		{name: "bad base64", kind: kindBytea, raw: `"!!"`, wantErr: true},
		{name: "json object", kind: kindJSON, raw: `{"a": [1, "x"]}`, want: `{"a": [1, "x"]}`},
		{name: "json string", kind: kindJSON, raw: `"s"`, want: `"s"`},
		{name: "json array", kind: kindJSON, raw: ` [1,2] `, want: `[1,2]`},
		{name: "object for text", kind: kindString, raw: `{"a":1}`, wantErr: true},
		{name: "array for integer", kind: kindScalar, raw: `[1]`, wantErr: true},
		{name: "array", kind: kindArray, elem: kindScalar, raw: `[1, null, 3]`, want: `{1,NULL,3}`},
		{name: "empty array", kind: kindArray, elem: kindScalar, raw: `[]`, want: `{}`},
		{name: "two dimensions", kind: kindArray, elem: kindScalar, raw: `[[1,2],[3,4]]`, want: `{{1,2},{3,4}}`},
		{name: "text array", kind: kindArray, elem: kindScalar, raw: `["a,b","q\"","b\\s",null,"NULL","null",""," x","é{}"]`,
			want: `{"a,b","q\"","b\\s",NULL,"NULL","null",""," x","é{}"}`},
		{name: "bytea array", kind: kindArray, elem: kindBytea, raw: `["AP8Q",null]`, want: `{"\\x00ff10",NULL}`},
		{name: "json array elements", kind: kindArray, elem: kindJSON, raw: `[{"a":1},[1,2],"s",null]`, want: `{"{\"a\":1}","[1,2]","\"s\"",NULL}`},
		{name: "array kept in text", kind: kindString, raw: `["happy","so sad"]`, want: `{happy,"so sad"}`},
		{name: "object in array", kind: kindArray, elem: kindScalar, raw: `[{"a":1}]`, wantErr: true},
		{name: "unclosed array", kind: kindArray, elem: kindScalar, raw: `[1,2`, wantErr: true},
		{name: "trailing garbage", kind: kindArray, elem: kindScalar, raw: `[1]x`, wantErr: true},
		{name: "empty", kind: kindScalar, raw: ``, wantErr: true},
		{name: "not JSON", kind: kindScalar, raw: `nope`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cv converter
			got, null, err := cv.appendValue([]byte("prefix:"), tt.kind, tt.elem, ',', []byte(tt.raw))
			if (err != nil) != tt.wantErr {
				t.Fatalf("appendValue(%s) error = %v, want error %v", tt.raw, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if null != tt.wantNull {
				t.Errorf("appendValue(%s) null = %v, want %v", tt.raw, null, tt.wantNull)
			}
			if string(got) != "prefix:"+tt.want {
				t.Errorf("appendValue(%s) = %s, want prefix:%s", tt.raw, got, tt.want)
			}
		})
	}
}

func TestAppendQuoted(t *testing.T) {
	got := string(appendQuoted(nil, []byte(`a"b\c`)))
	if want := `"a\"b\\c"`; got != want {
		t.Errorf("appendQuoted = %s, want %s", got, want)
	}
}

func TestValueLen(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`"a\"b",`, 6},
		{`[1,["]"],{"a":"}"}] x`, 19},
		{`123]`, 3},
		{`"open`, 0},
		{`[1,2`, 0},
		{``, 0},
	}
	for _, tt := range tests {
		if got := valueLen([]byte(tt.in)); got != tt.want {
			t.Errorf("valueLen(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
