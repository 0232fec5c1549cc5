package plan

import (
	"fmt"
	"strings"
)

// CheckDecimal checks that s is exact decimal text (an optional sign,
// digits, an optional point and digits) and that it has at most scale
// significant fraction digits (scale < 0: any). A server that has no NaN
// or infinities and rounds fraction digits beyond a column's scale, as
// MySQL and SQL Server do when they convert text, would otherwise store
// another value; server names it in the error.
func CheckDecimal(s string, scale int, server string) error {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, _ := strings.Cut(digits, ".")
	if intPart == "" && frac == "" || strings.Trim(intPart, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return fmt.Errorf("%q is not a decimal number %s can hold", s, server)
	}
	if frac = strings.TrimRight(frac, "0"); scale >= 0 && len(frac) > scale {
		return fmt.Errorf("%s has %d digits after the point; the column keeps %d", s, len(frac), scale)
	}
	return nil
}
