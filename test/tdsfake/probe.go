package tdsfake

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// The two-way probe of apply/sqlserver (probe.go there): a Store answers
// its SHAPE, not T-SQL. Each part of a "\nUNION ALL\n" is one change's
// probe: the row of the key in its WHERE (t.[k] = @pN AND …), whether
// the row matches the old row's terms and the new row's (each
// "t.[c] = @pN" or "t.[c] IS NULL", possibly CAST; "1 = 1" true,
// "1 = 0" false), and the policy column's comparison. Values compare as
// fmt.Sprint does them; the comparison as numbers when both are, else
// as strings. Collations and types are not modelled.

var (
	probeRE = regexp.MustCompile(`^SELECT (?:(\d+), )?\(SELECT .+? FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES\), ` +
		`CAST\(CASE WHEN (.+?) THEN 1 ELSE 0 END AS bit\), CAST\(CASE WHEN (.+?) THEN 1 ELSE 0 END AS bit\), (.+?) ` +
		`FROM (\S+) AS t WITH \(UPDLOCK, SERIALIZABLE\) WHERE (.+)$`)
	termRE = regexp.MustCompile(`(?:CAST\()?t\.(\[(?:[^\]]|\]\])+\])(?: AS \w+\(max\)\))? (?:= @p(\d+)|(IS NULL))`)
	cmpRE  = regexp.MustCompile(`^CASE WHEN @p(\d+) > (?:CAST\()?t\.(\[(?:[^\]]|\]\])+\])`)
)

// probe answers text if it is a probe; ok is false if it is not, or
// names a table the store does not hold.
func (s *Store) probe(text string, p []any) (r Result, ok bool) {
	if !strings.HasPrefix(text, "SELECT ") || !strings.Contains(text, " FOR JSON PATH, ") {
		return Result{}, false
	}
	for n, part := range strings.Split(text, "\nUNION ALL\n") {
		m := probeRE.FindStringSubmatch(part)
		if m == nil {
			return Result{}, false
		}
		if n == 0 {
			if m[1] != "" {
				r.Cols = []Type{Int4}
			}
			r.Cols = append(r.Cols, NVarchar, Bit, Bit, Int4)
		}
		t := s.tables[m[5]]
		if t == nil {
			return Result{}, false
		}
		row := t.Rows[t.keyText(assignments(m[6], p))]
		if row == nil {
			continue
		}
		obj := map[string]any{}
		for _, c := range t.Cols {
			obj[c.Name] = row[c.Name]
		}
		js, err := json.Marshal(obj)
		if err != nil {
			return Result{ErrNo: 13604, Msg: err.Error()}, true
		}
		var out []any
		if m[1] != "" {
			var i int64
			fmt.Sscan(m[1], &i)
			out = append(out, i)
		}
		out = append(out, string(js), holds(row, m[2], p), holds(row, m[3], p), compare(row, m[4], p))
		r.Rows = append(r.Rows, out)
	}
	return r, true
}

// holds tells whether row meets every term of cond.
func holds(row map[string]any, cond string, p []any) bool {
	switch cond {
	case "1 = 1":
		return true
	case "1 = 0":
		return false
	}
	for _, m := range termRE.FindAllStringSubmatch(cond, -1) {
		v := row[unquote(m[1])]
		if m[3] != "" {
			if v != nil {
				return false
			}
			continue
		}
		want := param("@p"+m[2], p)
		if v == nil || want == nil || fmt.Sprint(v) != fmt.Sprint(want) {
			return false
		}
	}
	return true
}

// compare is the policy column comparison of expr ("0" or a CASE):
// 1 if the parameter is greater than the row's value, -1 if less, 0 if
// equal or either is NULL.
func compare(row map[string]any, expr string, p []any) int64 {
	m := cmpRE.FindStringSubmatch(expr)
	if m == nil {
		return 0
	}
	a, b := param("@p"+m[1], p), row[unquote(m[2])]
	if a == nil || b == nil {
		return 0
	}
	af, aok := number(a)
	bf, bok := number(b)
	switch {
	case aok && bok && af > bf, !(aok && bok) && fmt.Sprint(a) > fmt.Sprint(b):
		return 1
	case aok && bok && af < bf, !(aok && bok) && fmt.Sprint(a) < fmt.Sprint(b):
		return -1
	}
	return 0
}

// number returns v as a float64 if it is a number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
