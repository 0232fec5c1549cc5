package postgres

import "github.com/jackc/pgx/v5/pgtype"

// texts is a list of text values, NULL allowed, stored back to back.
// Values are appended to data by the converter and closed by endValue.
//
// As a statement argument it is a text[] (it implements
// pgtype.ArrayGetter), which pgx sends in binary form: neither side
// quotes, escapes or parses an array literal.
type texts struct {
	data  []byte
	ends  []int // where each value ends in data
	nulls []bool
}

var _ pgtype.ArrayGetter = (*texts)(nil)

func (ts *texts) reset() {
	ts.data, ts.ends, ts.nulls = ts.data[:0], ts.ends[:0], ts.nulls[:0]
}

// end returns where the last value ends in data.
func (ts *texts) end() int {
	if len(ts.ends) == 0 {
		return 0
	}
	return ts.ends[len(ts.ends)-1]
}

// endValue closes the value appended to data since the last one.
func (ts *texts) endValue(null bool) {
	ts.ends = append(ts.ends, len(ts.data))
	ts.nulls = append(ts.nulls, null)
}

// add appends a value.
func (ts *texts) add(v []byte, null bool) {
	ts.data = append(ts.data, v...)
	ts.endValue(null)
}

// value returns the i-th value's text.
func (ts *texts) value(i int) []byte {
	start := 0
	if i > 0 {
		start = ts.ends[i-1]
	}
	return ts.data[start:ts.ends[i]]
}

// args returns the values as the arguments of a one-row statement:
// text, or nil for NULL.
func (ts *texts) args() []any {
	args := make([]any, len(ts.nulls))
	for i, null := range ts.nulls {
		if !null {
			args[i] = string(ts.value(i))
		}
	}
	return args
}

// Dimensions implements pgtype.ArrayGetter.
func (ts *texts) Dimensions() []pgtype.ArrayDimension {
	return []pgtype.ArrayDimension{{Length: int32(len(ts.ends)), LowerBound: 1}}
}

// Index implements pgtype.ArrayGetter: nil for NULL, else the text.
func (ts *texts) Index(i int) any {
	if ts.nulls[i] {
		return nil
	}
	if v := ts.value(i); v != nil {
		return v
	}
	return []byte{} // an empty value, not NULL
}

// IndexType implements pgtype.ArrayGetter.
func (ts *texts) IndexType() any { return []byte(nil) }

// appendCopyRows appends the rows of cols, one *texts per column with a
// value for every row, in COPY's text format: values separated by tabs,
// NULL as \N, a newline after each row.
func appendCopyRows(dst []byte, cols []any) []byte {
	if len(cols) == 0 {
		return dst
	}
	vals := make([]*texts, len(cols))
	for i, c := range cols {
		vals[i] = c.(*texts)
	}
	for row := range vals[0].ends {
		for i, v := range vals {
			if i > 0 {
				dst = append(dst, '\t')
			}
			if v.nulls[row] {
				dst = append(dst, '\\', 'N')
				continue
			}
			dst = appendCopyText(dst, v.value(row))
		}
		dst = append(dst, '\n')
	}
	return dst
}

// appendCopyText appends v escaped for COPY's text format.
func appendCopyText(dst, v []byte) []byte {
	for _, c := range v {
		switch c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
