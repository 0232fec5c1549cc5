// Package exprlang compares the candidate expression languages for
// syncd's field mapping (docs/performance.md, "Field mapping"): the same
// five transforms of one row (split, concat, lower, regex replace, keyed
// hash) in plain Go, expr-lang/expr, CEL and HCL with cty functions, each
// compiled once and run per row with the row's values bound as variables.
// It is a module of its own so that the candidates do not become syncd's
// dependencies: cd bench/exprlang && go test -bench . -benchmem
package exprlang

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func mac(s string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

var reCache sync.Map

func re(p string) *regexp.Regexp {
	if r, ok := reCache.Load(p); ok {
		return r.(*regexp.Regexp)
	}
	r := regexp.MustCompile(p)
	reCache.Store(p, r)
	return r
}

var names = []string{"full_name", "first_name", "last_name", "email", "phone", "ssn"}
var row = []any{"Ada Lovelace", "Ada", "Lovelace", "Ada@Example.COM", "+44 (20) 7946-0958", "123-45-6789"}
var want = []string{"Ada", "Lovelace, Ada", "ada@example.com", "442079460958", mac("123-45-6789")}

func check(b *testing.B, got []any) {
	for i, w := range want {
		if got[i] != w {
			b.Fatalf("transform %d: got %v, want %v", i, got[i], w)
		}
	}
}

func BenchmarkNative(b *testing.B) {
	out := make([]any, 5)
	for b.Loop() {
		out[0] = strings.Split(row[0].(string), " ")[0]
		out[1] = row[2].(string) + ", " + row[1].(string)
		out[2] = strings.ToLower(row[3].(string))
		out[3] = re("[^0-9]").ReplaceAllString(row[4].(string), "")
		out[4] = mac(row[5].(string))
	}
	check(b, out)
}

// --- expr-lang/expr ---
var exprSrc = []string{
	`split(full_name, " ")[0]`,
	`last_name + ", " + first_name`,
	`lower(email)`,
	`regex_replace(phone, "[^0-9]", "")`,
	`hash(ssn)`,
}

func BenchmarkExpr(b *testing.B) {
	env := map[string]any{}
	for i, n := range names {
		env[n] = row[i]
	}
	opts := []expr.Option{expr.Env(env),
		expr.Function("hash", func(p ...any) (any, error) { return mac(p[0].(string)), nil }, new(func(string) string)),
		expr.Function("regex_replace", func(p ...any) (any, error) {
			return re(p[1].(string)).ReplaceAllString(p[0].(string), p[2].(string)), nil
		}, new(func(string, string, string) string)),
	}
	var progs []*vm.Program
	for _, s := range exprSrc {
		p, err := expr.Compile(s, opts...)
		if err != nil {
			b.Fatal(err)
		}
		progs = append(progs, p)
	}
	out := make([]any, 5)
	var machine vm.VM
	b.ResetTimer()
	for b.Loop() {
		env := make(map[string]any, len(names))
		for i, n := range names {
			env[n] = row[i]
		}
		for i, p := range progs {
			v, err := machine.Run(p, env)
			if err != nil {
				b.Fatal(err)
			}
			out[i] = v
		}
	}
	check(b, out)
}

// --- CEL ---
var celSrc = []string{
	`full_name.split(" ")[0]`,
	`last_name + ", " + first_name`,
	`email.lowerAscii()`,
	`regex.replace(phone, "[^0-9]", "")`,
	`hash(ssn)`,
}

type celAct struct{ vals []any }

func (a *celAct) ResolveName(name string) (any, bool) {
	for i, n := range names {
		if n == name {
			return a.vals[i], true
		}
	}
	return nil, false
}
func (a *celAct) Parent() cel.Activation { return nil }

func BenchmarkCEL(b *testing.B) {
	opts := []cel.EnvOption{ext.Strings(), cel.OptionalTypes(), ext.Regex(),
		cel.Function("hash", cel.Overload("hash_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(mac(string(v.(types.String)))) })))}
	for _, n := range names {
		opts = append(opts, cel.Variable(n, cel.StringType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		b.Fatal(err)
	}
	var progs []cel.Program
	for _, s := range celSrc {
		ast, iss := env.Compile(s)
		if iss.Err() != nil {
			b.Fatal(iss.Err())
		}
		p, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			b.Fatal(err)
		}
		progs = append(progs, p)
	}
	out := make([]any, 5)
	b.ResetTimer()
	for b.Loop() {
		act := &celAct{vals: row}
		for i, p := range progs {
			v, _, err := p.Eval(act)
			if err != nil {
				b.Fatal(err)
			}
			out[i] = v.Value()
		}
	}
	check(b, out)
}

// --- HCL + cty ---
var hclSrc = []string{
	`split(" ", full_name)[0]`,
	`"${last_name}, ${first_name}"`,
	`lower(email)`,
	`regex_replace(phone, "[^0-9]", "")`,
	`hash(ssn)`,
}

func BenchmarkHCL(b *testing.B) {
	funcs := map[string]function.Function{
		"split": stdlib.SplitFunc, "lower": stdlib.LowerFunc,
		"regex_replace": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "s", Type: cty.String}, {Name: "p", Type: cty.String}, {Name: "r", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(a []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.StringVal(re(a[1].AsString()).ReplaceAllString(a[0].AsString(), a[2].AsString())), nil
			}}),
		"hash": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "s", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(a []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.StringVal(mac(a[0].AsString())), nil
			}}),
	}
	var exprs []hcl.Expression
	for _, s := range hclSrc {
		e, d := hclsyntax.ParseExpression([]byte(s), "x.hcl", hcl.InitialPos)
		if d.HasErrors() {
			b.Fatal(d)
		}
		exprs = append(exprs, e)
	}
	out := make([]any, 5)
	b.ResetTimer()
	for b.Loop() {
		vars := make(map[string]cty.Value, len(names))
		for i, n := range names {
			vars[n] = cty.StringVal(row[i].(string))
		}
		ctx := &hcl.EvalContext{Variables: vars, Functions: funcs}
		for i, e := range exprs {
			v, d := e.Value(ctx)
			if d.HasErrors() {
				b.Fatal(d)
			}
			out[i] = v.AsString()
		}
	}
	check(b, out)
}
