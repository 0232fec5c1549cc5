package scopes

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
)

// Helpers that evaluate attributes and record diagnostics on the loader.
// Each reports whether it produced a value; on false, the diagnostics say
// why, or the attribute is absent or null and the default stands.

// value evaluates expr. Secrets that env() or file() could not provide
// become warnings at expr; substituted reports whether there were any.
func (l *loader) value(expr hcl.Expression) (v cty.Value, substituted, ok bool) {
	v, diags := expr.Value(l.ctx)
	l.diags = append(l.diags, diags...)
	missing := l.secrets.take()
	for _, reason := range missing {
		l.warnf(expr.Range(), "Secret not available",
			"%s; using an empty string, which is only allowed when validating.", capitalize(reason))
	}
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false, false
	}
	return v, len(missing) > 0, true
}

// decodeExpr evaluates expr into dst, a pointer to a Go value that gocty
// converts to (string, bool, int64, []string, ...).
func (l *loader) decodeExpr(expr hcl.Expression, dst any) bool {
	v, _, ok := l.value(expr)
	if !ok {
		return false
	}
	diags := gohcl.DecodeExpression(hcl.StaticExpr(v, expr.Range()), nil, dst)
	l.diags = append(l.diags, diags...)
	return !diags.HasErrors()
}

// decode evaluates the attribute name, if present and not null, into dst.
func (l *loader) decode(attrs hcl.Attributes, name string, dst any) bool {
	a := attrs[name]
	if a == nil || isNull(a.Expr) {
		return false
	}
	return l.decodeExpr(a.Expr, dst)
}

// isNull reports whether expr is the literal null, which stands for "not
// set" as in Terraform.
func isNull(expr hcl.Expression) bool {
	v, diags := expr.Value(nil)
	return !diags.HasErrors() && v.IsNull()
}

// requireNotNull reports a required attribute set to null, and whether
// the attribute is usable: present and not null.
func (l *loader) requireNotNull(attrs hcl.Attributes, name string) bool {
	a := attrs[name]
	if a == nil {
		return false // HCL reports a missing required attribute
	}
	if isNull(a.Expr) {
		l.errorf(a.Expr.Range(), "Missing "+name, "The %s is required; it cannot be null.", name)
		return false
	}
	return true
}

// secret decodes a string attribute that must not be empty, unless it is
// empty because a secret was not available. Absent or null, it is unset.
func (l *loader) secret(attrs hcl.Attributes, name string, dst *string) {
	a := attrs[name]
	if a == nil || isNull(a.Expr) {
		return
	}
	v, substituted, ok := l.value(a.Expr)
	if !ok {
		return
	}
	diags := gohcl.DecodeExpression(hcl.StaticExpr(v, a.Expr.Range()), nil, dst)
	l.diags = append(l.diags, diags...)
	if !diags.HasErrors() && *dst == "" && !substituted {
		l.errorf(a.Expr.Range(), "Empty "+name, "The %s must not be empty.", name)
	}
}

// duration decodes a duration string such as "500ms". Zero is allowed only
// with allowZero; negative durations never.
func (l *loader) duration(attrs hcl.Attributes, name string, dst *time.Duration, allowZero bool) {
	var s string
	if !l.decode(attrs, name, &s) {
		return
	}
	rng := attrs[name].Expr.Range()
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		l.errorf(rng, "Invalid duration", `The %s must be a duration such as "500ms", "2m" or "168h", not %q.`, name, s)
	case d < 0 || d == 0 && !allowZero:
		l.errorf(rng, "Invalid duration", "The %s must be positive, not %q.", name, s)
	default:
		*dst = d
	}
}

// oneOf decodes a string that must be one of allowed.
func (l *loader) oneOf(attrs hcl.Attributes, name string, dst *string, allowed ...string) {
	var s string
	if !l.decode(attrs, name, &s) {
		return
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return
		}
	}
	l.errorf(attrs[name].Expr.Range(), "Invalid "+name,
		"The %s must be %s, not %q.", name, quotedList(allowed, "or"), s)
}

// listen decodes a host:port address.
func (l *loader) listen(attrs hcl.Attributes, dst *string) {
	var s string
	if !l.decode(attrs, "listen", &s) {
		return
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		l.errorf(attrs["listen"].Expr.Range(), "Invalid listen address",
			`The listen address must be host:port, such as "127.0.0.1:7070", not %q.`, s)
		return
	}
	*dst = s
}

// path decodes a file system path, resolved against the config directory.
func (l *loader) path(attrs hcl.Attributes, name string, dst *string) {
	var s string
	if !l.decode(attrs, name, &s) {
		return
	}
	if s == "" {
		l.errorf(attrs[name].Expr.Range(), "Empty "+name, "The %s must not be empty.", name)
		return
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(l.baseDir, s)
	}
	*dst = s
}

// item is a string from the config with the range of its expression.
type item struct {
	value string
	rng   hcl.Range
}

// stringList decodes a list of strings, keeping each element's range when
// the list is written as a list literal.
func (l *loader) stringList(a *hcl.Attribute) ([]item, bool) {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		// Not a literal list, such as a function call: its elements share
		// its range.
		var list []string
		if !l.decodeExpr(a.Expr, &list) {
			return nil, false
		}
		items := make([]item, len(list))
		for i, s := range list {
			items[i] = item{value: s, rng: a.Expr.Range()}
		}
		return items, true
	}
	items := make([]item, 0, len(exprs))
	ok := true
	for _, e := range exprs {
		var s string
		if !l.decodeExpr(e, &s) {
			ok = false
			continue
		}
		items = append(items, item{value: s, rng: e.Range()})
	}
	return items, ok
}

// namePattern is what source, target, scope and template names must match:
// they appear in NATS subjects, stream names (SYNCD_<UPPER(scope)>) and
// consumer names, and this keeps those reversible.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// declare records the block's name (its last label) among those of kind,
// and reports whether the name was free. An invalid name is reported, and
// recorded all the same so that references to it add no errors of their
// own.
func (l *loader) declare(kind string, b *hcl.Block) bool {
	i := len(b.Labels) - 1
	name, rng := b.Labels[i], b.LabelRanges[i]
	seen := l.declared[kind]
	if seen == nil {
		seen = map[string]hcl.Range{}
		l.declared[kind] = seen
	}
	if first, dup := seen[name]; dup {
		l.errorf(rng, "Duplicate "+kind, "A %s named %q is already defined at %s.", kind, name, first)
		return false
	}
	seen[name] = b.DefRange
	if !namePattern.MatchString(name) {
		l.errorf(rng, "Invalid "+kind+" name",
			"The %s name %q must start with a lowercase letter and have at most 63 lowercase letters, digits, '_' and '-'.", kind, name)
	}
	return true
}

func (l *loader) errorf(rng hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

func (l *loader) warnf(rng hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// quotedList writes names as "a", "b" or "c" (with conj "or").
func quotedList(names []string, conj string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + conj + " " + q[len(q)-1]
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
