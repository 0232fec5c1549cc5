package filter

import (
	"maps"
	"math"
	"slices"
	"strconv"
)

// Index narrows a list of filters to those a row may pass, by the value of
// one column: the column that the most filters compare for equality with a
// literal in a top-level conjunct (region = 'eu', or region = 'eu' AND
// ...). When that conjunct is FALSE for a row the filter is FALSE for it,
// whatever its other terms, so the filters an Index rules out for a value
// need not be evaluated. It is what lets one table serve many spoke scopes
// made from one template without evaluating every spoke's filter per row.
// An Index is immutable and safe for concurrent use.
type Index struct {
	column  string
	n       int
	always  []int                  // filters not indexed, in order
	buckets map[indexKey][]int     // indexed filters by their literal's key, in order
	unknown [numIndexClasses][]int // indexed filters whose literal is UNKNOWN against a class
}

// indexClass is a class of row values, by how = compares them with
// literals: values of one class compare with a literal either as plain
// equality of a key (indexKey) or not at all (UNKNOWN).
type indexClass uint8

const (
	classBool indexClass = iota
	classNumber
	classString
	classTime
	numIndexClasses
)

// indexKey is a value reduced so that equal values (as = finds them) have
// equal keys. Numbers reduce to their nearest float64, so unequal numbers
// may share a key: the key finds candidates, the filter decides.
type indexKey struct {
	class indexClass
	n     uint64 // bool: 0 or 1; number: float bits; time: Unix seconds
	nsec  int32  // time: nanoseconds
	s     string // string
}

// NewIndex indexes filters by the column the most of them compare with =
// to a literal in a top-level conjunct; ties go to the column whose name
// sorts first. Filters without such a conjunct, with a
// NULL literal in it, and nil filters (which pass every row) are kept
// apart and are candidates for every row. A filter's position in filters
// is what Candidates returns.
func NewIndex(filters []*Filter) *Index {
	ix := &Index{n: len(filters)}
	counts := map[string]int{}
	for _, f := range filters {
		for col := range equalities(f) {
			counts[col]++
		}
	}
	best := 0
	for _, col := range slices.Sorted(maps.Keys(counts)) {
		if counts[col] > best {
			ix.column, best = col, counts[col]
		}
	}
	if ix.column != "" {
		ix.buckets = map[indexKey][]int{}
	}
	for i, f := range filters {
		lit, ok := equalities(f)[ix.column]
		if !ok || ix.column == "" || lit.kind == KindNull {
			ix.always = append(ix.always, i)
			continue
		}
		c := newConstant(lit)
		for class := range numIndexClasses {
			if k, ok := constantKey(c, class); ok {
				ix.buckets[k] = append(ix.buckets[k], i)
			} else {
				ix.unknown[class] = append(ix.unknown[class], i)
			}
		}
	}
	return ix
}

// equalities returns, by column, the first literal each column is compared
// with by = in a top-level conjunct of f.
func equalities(f *Filter) map[string]Value {
	if f == nil {
		return nil
	}
	terms := []node{f.root}
	if ln, ok := f.root.(*logicNode); ok && !ln.or {
		terms = ln.terms // flattened by the parser: no AND under AND
	}
	eq := map[string]Value{}
	for _, t := range terms {
		c, ok := t.(*compareNode)
		if !ok || c.op != opEq {
			continue
		}
		col, lit := c.l, c.r
		if col.kind != operandColumn {
			col, lit = lit, col
		}
		if col.kind != operandColumn || lit.kind != operandLiteral {
			continue
		}
		if _, seen := eq[col.name]; !seen {
			eq[col.name] = lit.val
		}
	}
	return eq
}

// Column returns the name of the indexed column, as filters spell it, or
// "" if no column is indexed: then every filter is a candidate for every
// row.
func (ix *Index) Column() string { return ix.column }

// Len returns the number of filters indexed.
func (ix *Index) Len() int { return ix.n }

// Candidates appends to dst, in increasing order and each once, the
// positions of the filters that are not FALSE for some row whose indexed
// column holds one of values; a value of the capture.Event types. Every
// filter is a candidate when a value does not compare with literals (NULL,
// capture.Absent, []byte, a decimal in exponent form) or no column is
// indexed. Candidates may include filters that are FALSE for the rows;
// it leaves out none that are not.
func (ix *Index) Candidates(dst []int, values ...any) []int {
	if ix.column == "" {
		return ix.All(dst)
	}
	var lists [1 + 2*maxCandidateValues][]int
	if len(values) > maxCandidateValues {
		return ix.All(dst)
	}
	lists[0] = ix.always
	k := 1
	for _, v := range values {
		key, ok := valueKey(scalarOf(v))
		if !ok {
			return ix.All(dst)
		}
		lists[k], lists[k+1] = ix.buckets[key], ix.unknown[key.class]
		k += 2
	}
	return mergeSorted(dst, lists[:k])
}

// maxCandidateValues is the most values Candidates narrows by: an update's
// old and new values.
const maxCandidateValues = 2

// All appends to dst the position of every filter, in order.
func (ix *Index) All(dst []int) []int {
	for i := range ix.n {
		dst = append(dst, i)
	}
	return dst
}

// mergeSorted appends the union of sorted lists to dst, in order.
func mergeSorted(dst []int, lists [][]int) []int {
	last := -1
	for {
		min, at := -1, -1
		for i, l := range lists {
			if len(l) > 0 && (at < 0 || l[0] < min) {
				min, at = l[0], i
			}
		}
		if at < 0 {
			return dst
		}
		lists[at] = lists[at][1:]
		if min != last {
			dst = append(dst, min)
			last = min
		}
	}
}

// valueKey returns the key of a row value, or false if = compares it with
// no literal (NULL, Absent, invalid).
func valueKey(s scalar) (indexKey, bool) {
	switch s.kind {
	case sBool:
		return indexKey{class: classBool, n: uint64(s.i)}, true
	case sInt:
		return numberKey(float64(s.i)), true
	case sUint:
		return numberKey(float64(s.u)), true
	case sFloat:
		return numberKey(s.f), true
	case sDecimal:
		return decimalKey(s.s, s.d), true
	case sString:
		return indexKey{class: classString, s: s.s}, true
	case sTime:
		return indexKey{class: classTime, n: uint64(s.t.Unix()), nsec: int32(s.t.Nanosecond())}, true
	}
	return indexKey{}, false
}

// constantKey returns the key of c as = compares it with values of class,
// or false if that comparison is UNKNOWN. It follows compareColumn: a
// string literal compared with a number or a time is read as one.
func constantKey(c *constant, class indexClass) (indexKey, bool) {
	var s scalar
	switch class {
	case classBool:
		s = c.as(sBool)
		if s.kind != sBool {
			return indexKey{}, false
		}
	case classNumber:
		s = c.as(sDecimal) // as any numeric kind
		if !s.kind.numeric() {
			return indexKey{}, false
		}
	case classString:
		s = c.as(sString)
		if s.kind != sString {
			return indexKey{}, false
		}
	case classTime:
		s = c.as(sTime)
		if s.kind != sTime {
			return indexKey{}, false
		}
	}
	return valueKey(s)
}

// numberKey keys a number by its float64: compareNumbers finds two numbers
// equal only if their nearest float64s are equal (it rounds a decimal met
// by a float to the nearest float64, and compares the rest exactly). All
// NaNs are one key, as NaN equals NaN; -0 is 0.
func numberKey(f float64) indexKey {
	switch {
	case math.IsNaN(f):
		f = math.NaN()
	case f == 0:
		f = 0
	}
	return indexKey{class: classNumber, n: math.Float64bits(f)}
}

// decimalKey keys d, parsed from text, by its nearest float64: ±Inf past
// the float64 range.
func decimalKey(text string, d decimal) indexKey {
	if d.class != finite {
		return numberKey(decimalClassFloat(d.class))
	}
	// The text of a finite decimal is digits with a sign and a point,
	// which ParseFloat reads, rounding to nearest like cmpFloatDecimal.
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeError(err) {
		f, _ = strconv.ParseFloat(d.text(), 64) // unreachable; allocates
	}
	return numberKey(f)
}
